"""Weibo accounts of the simulated internet.

Named accounts (media, the bank, big Vs, the people in the story, distractor organisations) are written out;
ordinary reposters are listed by nickname in the content modules and get ids from the scenario. Follower counts
and verification matter to the product (reach and authority feed the risk score), so they are deliberate.
"""

from __future__ import annotations

from sim.model import WeiboUser

USERS: list[WeiboUser] = [
    # people in the story
    WeiboUser("liu_xiaomei", 5821930461, "刘家小妹今天也要加油", 863, description="护士｜爱猫｜江城"),
    WeiboUser("xinhua_cat", 6012773508, "新华路的猫", 2410, description="住在新华路，记录街坊日常"),
    WeiboUser("bank_xiaowang", 7203318895, "柜员小王的日常", 15600, description="银行一线打工人，吐槽专用"),
    WeiboUser("rumour_a", 7789002314, "江城消息速递站", 48300, description="江城本地资讯 爆料请私信"),
    WeiboUser("rumour_b", 7790115562, "内部人士说", 3120),
    WeiboUser("panic_mom", 6633102907, "糖糖妈咪爱生活", 1270, description="宝妈｜理财小白"),
    WeiboUser("panic_b", 7455201833, "打工人阿凯", 388),
    WeiboUser("fin_student", 7012094467, "学金融的小陈", 9100, description="金融专业研究生，偶尔聊聊银行那些事"),
    WeiboUser("jc_laojie", 5390017722, "江城老街坊", 6620, description="江汉区土著"),
    # media, government and big Vs
    WeiboUser("jcwb", 1893771205, "江城晚报", 3280000, True, 3, "江城晚报官方微博"),
    WeiboUser("chujiang", 1702288440, "楚江网", 5120000, True, 3, "楚江网官方微博"),
    WeiboUser("jc_hot", 5533902176, "江城热门资讯", 326000, True, 0, "江城本地生活资讯博主"),
    WeiboUser("lawyer_zhang", 2866120934, "张律师说法", 1240000, True, 0, "执业律师 金融消费纠纷"),
    WeiboUser("caijing_laozhou", 1955087312, "财经观察员老周", 1830000, True, 0, "财经评论人 前银行从业者"),
    WeiboUser("jc_wangjing", 3301766521, "江城网警", 860000, True, 1, "江城市公安局网络安全保卫支队"),
    WeiboUser("jc_fabu", 3300455102, "江城发布", 2150000, True, 1, "江城市人民政府新闻办公室官方微博"),
    WeiboUser("jc_jiaojing", 3301209871, "江城交警", 1120000, True, 1, "江城市公安局交通管理局"),
    WeiboUser("jc_weather", 3302871934, "江城气象", 540000, True, 1, "江城市气象台"),
    # the bank and other banks
    WeiboUser("shili_jc", 6900112233, "示例银行江城分行", 42800, True, 2, "示例银行江城分行官方微博 客服热线95xxx"),
    WeiboUser("shili_hq", 6900000001, "示例银行", 1380000, True, 2, "示例银行官方微博"),
    WeiboUser("gh_jc", 6901882371, "工商银行江城分行", 95200, True, 2, "工商银行江城分行官方微博"),
    WeiboUser("cmb_jc", 6902761093, "招商银行江城分行", 71800, True, 2, "招商银行江城分行官方微博"),
    WeiboUser("nsh_jc", 6903550128, "江城农商银行", 38600, True, 2, "江城农村商业银行官方微博"),
    # distractor individuals and brands
    WeiboUser("concert_fan", 7123009988, "追星少女今天抢到票了吗", 5600),
    WeiboUser("dev_xu", 6400188210, "写代码的徐同学", 22300, description="后端开发 开源爱好者"),
    WeiboUser("food_jc", 5702911463, "江城吃货指南", 812000, True, 0, "江城美食探店"),
    WeiboUser("runner", 6321093388, "东湖跑团", 33400),
    WeiboUser("teacher_li", 6690321558, "李老师的教室", 18700, description="高中语文老师"),
    WeiboUser("telecom_angry", 7566210094, "被套餐坑惨的我", 210),
    WeiboUser("shop_girl", 7012233840, "买买买停不下来", 4300),
    WeiboUser("house_jc", 5833019902, "江城楼市观察", 268000, True, 0, "楼市资讯"),
    WeiboUser("student_dxc", 7601120934, "大学城考研人", 960),
    WeiboUser("pet_jc", 6122098712, "江城流浪动物救助", 45100, True, 7, "公益组织"),
    WeiboUser("econ_daily", 1822001934, "财经日报", 8920000, True, 3, "财经日报官方微博"),
]

USER_BY_KEY: dict[str, WeiboUser] = {u.key: u for u in USERS}
