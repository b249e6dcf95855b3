"""The scripted crisis: 示例银行江城分行新华路网点 refuses a 5万 cash withdrawal and a video goes viral.

This is the ground truth the product is judged on, written as data (offsets from the scenario start) so the
timeline can be read top to bottom like an incident log:

t+0      complaint on the complaint board
t+20m    the customer's relative posts the video on Weibo; reposts grow (S-curve with jumps)
t+2h     江城晚报网 article; a second complaint
t+4h     楚江网 (provincial) article; big-V reposts
t+5h     bank-run rumour and panic posts
t+6h     official clarification by the verified branch account, news piece quoting it
t+7..12h the story fades; follow-up "客户已取到钱，银行致歉"
"""

from __future__ import annotations

from datetime import timedelta

from sim.model import INCIDENT, Article, Complaint, Growth, WeiboPost, at

DURATION = timedelta(hours=12)

# --------------------------------------------------------------------------------------------------------------
# Complaint board
# --------------------------------------------------------------------------------------------------------------
COMPLAINTS: list[Complaint] = [
    Complaint(
        key="c-xinhua-1",
        offset=at(minutes=0),
        title="示例银行新华路网点不让取自己的钱，5万块说没预约就不给，态度极差",
        content=(
            "{d0}我陪我父亲（67岁）去示例银行江城分行新华路网点取他自己存的5万元现金，准备给我妈交住院押金。"
            "取号排了四十多分钟，到了柜台柜员直接说5万以上要提前一天预约，今天不能取。我们解释家里急用，"
            "能不能先取一部分，柜员说系统不允许，让我们自己去手机银行预约明天再来。我父亲问为什么之前没人通知"
            "要预约，柜员语气很冲，说“规定就是规定，你跟我说没用”。大堂经理过来也只会重复这句话，"
            "后来老人激动了几句，保安直接过来让我们“有话出去说”。老人存了十几年的钱，急用的时候取不出来，"
            "还被当成闹事的，心里非常难受。请示例银行给个说法。"
        ),
        target="示例银行",
        demand="道歉，立即办理取款，赔偿误工费",
        amount="50000元",
        truth=INCIDENT,
        author="刘女士",
        progress=(
            (at(minutes=0), "处理中", "投诉已提交，等待商家处理"),
            (at(hours=3, minutes=20), "已回复",
             "示例银行江城分行客服回复：您好，非常抱歉给您和家人带来不便。我行已安排新华路网点负责人与您联系，"
             "今日即可为您办理取款，请保持电话畅通。"),
            (at(hours=9, minutes=10), "已完成", "用户确认：钱已经取到了，网点负责人当面道了歉，这事就到这吧。"),
        ),
    ),
    Complaint(
        key="c-xinhua-2",
        offset=at(hours=2, minutes=5),
        title="示例银行新华路营业厅取2万也要预约？！",
        content=(
            "看了网上那个视频才知道不是我一个人遇到。上周我去新华路营业厅取2万块钱给孩子交学费，"
            "也是被告知要预约，来回跑了两趟。柜台只开了两个窗口，排队的人一大堆。我理解有规定，"
            "但能不能提前告知清楚？网点门口连个提示都没有。希望银行把规矩讲明白，别让老百姓白跑。"
        ),
        target="示例银行",
        demand="规范服务，公开取现预约规则",
        amount="20000元",
        truth=INCIDENT,
        author="江城用户_8f3a",
        progress=(
            (at(hours=2, minutes=5), "处理中", "投诉已提交，等待商家处理"),
            (at(hours=7, minutes=40), "已回复",
             "您好，您反映的情况我行已记录。根据规定个人单笔提取5万元（含）以上现金需提前预约，"
             "2万元无需预约，我行将核实当日情况并与您联系。"),
        ),
    ),
    Complaint(
        key="c-xinhua-3",
        offset=at(hours=5, minutes=25),
        title="听说示例银行要出事，去提前支取定期被拖着不办",
        content=(
            "网上都在传示例银行要倒闭，我有一笔定期在新华路网点，今天下午过去想提前取出来，"
            "工作人员一直劝我不要取、说会损失利息，拖了半个多小时才给办。到底有没有问题，"
            "银行能不能给句实话？我的存款安全吗？"
        ),
        target="示例银行",
        demand="说明情况，保障存款安全",
        amount="120000元",
        truth=INCIDENT,
        author="江城用户_c21d",
        progress=((at(hours=5, minutes=25), "处理中", "投诉已提交，等待商家处理"),),
    ),
]

# --------------------------------------------------------------------------------------------------------------
# 江城晚报网 (local news) and 楚江网 (provincial)
# --------------------------------------------------------------------------------------------------------------
NEWS: list[Article] = [
    Article(
        key="n-xinhua-1",
        offset=at(hours=2),
        title="七旬老人取5万元现金被拒 家属拍视频质疑银行网点服务",
        summary="市民反映在示例银行新华路网点取现遭拒，网点称大额取现需提前预约。",
        body=(
            "本报讯（记者 周晓雯）“自己的钱，急用的时候为什么取不出来？”{date}，市民刘女士向本报反映，"
            "她陪67岁的父亲到示例银行江城分行新华路网点取5万元现金，却因“未提前预约”被拒。",
            "刘女士说，家里老人住院急需交押金，父女俩在网点排队四十多分钟，到柜台后被告知5万元以上取现需要提前"
            "一天预约。“我们问能不能先取一部分，柜员说不行，态度也很生硬。”刘女士用手机拍下了现场视频，"
            "她的妹妹随后将视频发布到网上，截至记者发稿时，该视频已被转发上千次。",
            "视频中，一名老人在柜台前情绪激动，随后一名保安上前示意其到门外沟通。不少网友留言称“存钱容易取钱难”，"
            "也有网友表示，大额取现提前预约是银行的常规做法，双方应加强沟通。",
            "记者随后致电示例银行新华路网点，一名工作人员表示，相关情况已上报，正在核实，具体以官方回复为准。",
            "记者了解到，按照相关规定，个人提取大额现金一般需提前预约，各银行标准不一。业内人士提醒，"
            "市民如需提取大额现金，最好提前通过电话或手机银行预约，以免白跑一趟；银行方面也应做好告知和解释工作，"
            "对老年客户等特殊群体提供更有温度的服务。",
            "本报将持续关注此事进展。",
        ),
        truth=INCIDENT,
        channel="民生",
        author="周晓雯",
        editor="何静",
        encoding="gbk",
        layout=0,
        comments=(
            ("江城老胡", "规定可以有，但态度能不能好点？老人家急用钱啊。"),
            ("路过的小周", "大额预约确实是规定，我去别的银行也要约，不过保安那个操作有点过。"),
            ("晴天娃娃", "自己的钱都取不出，想想都心寒"),
        ),
    ),
    Article(
        key="n-xinhua-2",
        offset=at(hours=6, minutes=12),
        title="示例银行江城分行回应“取款遭拒”：已向客户致歉 经营一切正常",
        summary="示例银行江城分行发布情况说明，称已为客户办理取款并致歉，网传“银行要倒闭”系谣言。",
        body=(
            "本报讯（记者 周晓雯）针对网传“七旬老人在银行网点取5万元被拒”一事，{date}下午，"
            "示例银行江城分行通过官方微博发布情况说明。",
            "情况说明称，经核查，当日客户到新华路网点办理5万元现金支取业务，因按照人民银行关于大额现金管理的"
            "有关规定，个人单笔提取5万元（含）以上现金需提前预约，网点当日现金备付按预约情况安排，"
            "工作人员在解释过程中沟通方式简单、未能充分考虑客户的特殊情况，给客户带来了不便。",
            "“我行已安排网点负责人上门向客户当面致歉，并于当日为客户办理了取款。”该行表示，将对相关人员进行"
            "批评教育，并在全辖开展服务提升整改，在网点显著位置公示大额取现预约方式，对老年客户、"
            "急用资金等特殊情况开辟绿色通道。",
            "对于网络上出现的“示例银行要倒闭”“网点门口排长队取钱”等说法，示例银行江城分行明确表示，"
            "该行经营一切正常，资金充足，各网点业务正常办理，网传信息不实，请广大市民不信谣、不传谣。",
            "记者{date}傍晚在新华路网点看到，网点内秩序正常，门口已张贴大额取现预约提示。",
        ),
        truth=INCIDENT,
        channel="民生",
        author="周晓雯",
        editor="何静",
        layout=2,
    ),
    Article(
        key="n-xinhua-3",
        offset=at(hours=10, minutes=5),
        title="“取款遭拒”后续：老人已取到钱 银行登门致歉",
        summary="当事老人已取到存款，示例银行新华路网点负责人登门道歉并承诺整改。",
        body=(
            "本报讯（记者 周晓雯）本报此前报道的“七旬老人取5万元现金被拒”一事有了后续。{date}晚，"
            "当事人刘女士告诉记者，父亲的5万元已经取到，住院押金也交上了。",
            "“网点的负责人带着工作人员到医院来看了我爸，当面道了歉，态度挺诚恳的。”刘女士说，"
            "她已在投诉平台确认处理完毕，“我们也不想把事情闹大，就是希望以后别的老人不再遇到这种情况。”",
            "示例银行江城分行相关负责人表示，此事暴露出网点在服务沟通上的不足，下一步将把大额取现预约规则"
            "通过短信、网点公告等多种渠道告知客户，并对一线员工开展专项培训。",
            "江城市消费者权益保护相关人士提醒，市民遇到类似问题可先通过银行客服热线反映，"
            "也可向金融监管部门投诉，理性维权。",
        ),
        truth=INCIDENT,
        channel="民生",
        author="周晓雯",
        editor="王立新",
        layout=1,
    ),
]

PROVINCE: list[Article] = [
    Article(
        key="p-xinhua-1",
        site="province",
        offset=at(hours=4),
        title="取款5万被拒视频引热议 江城一银行网点服务遭质疑",
        summary="一段老人在示例银行江城新华路网点取款被拒的视频在网络流传，引发关注。",
        body=(
            "楚江网讯（记者 邓悦）近日，一段“七旬老人在银行取5万元现金被拒”的视频在网络上流传，引发网友热议。"
            "视频显示，事发地为示例银行江城分行新华路网点。",
            "据当事人家属介绍，老人因家人住院急需用钱，到网点取款时被告知需提前预约，协商未果，"
            "过程中还与工作人员发生争执。目前，该视频在微博上的转发量已超过两千次，"
            "江城本地媒体已跟进报道。",
            "湖北某高校金融学教授向记者表示，大额现金预约制度有其合理性，主要是为了保障网点现金备付、"
            "防范电信诈骗和洗钱风险，但银行在执行中应当“讲规矩也讲温度”，对确有急需的客户"
            "可以先行部分支付或协调调款。",
            "记者就此事联系示例银行江城分行，截至发稿尚未获得回复。楚江网将持续关注。",
        ),
        truth=INCIDENT,
        channel="湖北",
        source="楚江网",
        author="邓悦",
        editor="胡晨",
    ),
    Article(
        key="p-xinhua-2",
        site="province",
        offset=at(hours=6, minutes=40),
        title="示例银行江城分行：网点经营正常 “倒闭”传言不实",
        summary="针对网传“示例银行要倒闭”，示例银行江城分行回应称经营正常、资金充足。",
        body=(
            "楚江网讯 针对近日网络流传的“示例银行要倒闭”“新华路网点排长队取钱”等信息，"
            "示例银行江城分行{date}发布情况说明称，该行经营一切正常，资金充足，各项业务正常开展。",
            "此前，有网友发布老人在该行新华路网点取款被拒的视频。该行表示，已于当日为客户办理取款并当面致歉，"
            "将加强员工服务培训，在网点公示大额取现预约规则。",
            "江城警方提醒，编造、故意传播虚假信息扰乱公共秩序的，将依法追究责任。",
        ),
        truth=INCIDENT,
        channel="财经",
        source="楚江网",
        editor="胡晨",
    ),
]

# --------------------------------------------------------------------------------------------------------------
# Weibo: originals of the story. Reposts are added in ``REPOST_COMMENTS`` below and timed by the growth curves.
# --------------------------------------------------------------------------------------------------------------
ROOT_GROWTH = Growth(
    reposts=4860, comments=2310, attitudes=15200,
    phases=((0.10, 45, 14), (0.30, 120, 22), (0.42, 235, 30), (0.18, 320, 45)),
)

WEIBO: list[WeiboPost] = [
    WeiboPost(
        key="w-root", offset=at(minutes=20), user="liu_xiaomei", truth=INCIDENT, video=True,
        text=(
            "#江城身边事# 我爸今天去示例银行新华路网点取他自己的5万块钱，给我妈交住院押金，"
            "柜员说没预约不给取，求了半天一分都不让取，最后保安把老人“请”了出去……67岁的人了在大厅站了快两个小时。"
            "自己的钱取不出来？？这是什么道理？视频是我姐拍的 @示例银行 @江城晚报 http://t.cn/A6sim0vd"
        ),
        growth=ROOT_GROWTH,
    ),
    WeiboPost(
        key="w-witness", offset=at(minutes=48), user="xinhua_cat", truth=INCIDENT, pic_num=2,
        text="刚才在新华路那家示例银行办事，看到一个大爷跟柜台吵起来了，好像是取钱的事，大爷手都在抖，围了一圈人。"
             "后来保安过来把人劝出去了，看着挺心酸的",
        growth=Growth(reposts=85, comments=140, attitudes=620, phases=((1.0, 80, 25),)),
    ),
    WeiboPost(
        key="w-hot-local", offset=at(minutes=95), user="jc_hot", truth=INCIDENT, video=True,
        text="【七旬老人银行取5万元被拒，家属：自己的钱凭什么不让取？】近日，江城网友发视频称，家中老人到示例银行"
             "新华路网点取现5万元，因未预约被拒，双方发生争执。你怎么看？#江城身边事#",
        growth=Growth(reposts=760, comments=980, attitudes=3300,
                      phases=((0.5, 60, 18), (0.5, 160, 30))),
    ),
    WeiboPost(
        key="w-jcwb-1", offset=at(hours=2, minutes=3), user="jcwb", truth=INCIDENT, pic_num=1,
        text="【七旬老人取5万元现金被拒 家属拍视频质疑银行网点服务】市民刘女士反映，陪父亲到示例银行江城分行新华路"
             "网点取5万元现金，因未提前预约被拒。记者致电网点，工作人员称正在核实。本报将持续关注。"
             "（江城晚报记者 周晓雯）",
        growth=Growth(reposts=540, comments=720, attitudes=2100, phases=((0.7, 50, 15), (0.3, 160, 30))),
    ),
    WeiboPost(
        key="w-lawyer", offset=at(hours=2, minutes=40), user="lawyer_zhang", truth=INCIDENT,
        text="说几句专业的：1、大额现金提前预约是有依据的，各地标准不同，一般5万元起；2、但“预约”不等于“拒付”，"
             "银行对急需用款的客户有解释和协调的义务；3、保安介入要非常慎重。示例银行这件事，规定没错，"
             "错在处理方式。#七旬老人取5万被拒#",
        growth=Growth(reposts=1320, comments=860, attitudes=6900, phases=((0.6, 70, 20), (0.4, 170, 35))),
    ),
    WeiboPost(
        key="w-defend", offset=at(hours=3, minutes=5), user="bank_xiaowang", truth=INCIDENT,
        text="作为一个柜员说句公道话，5万以上不预约网点真的可能没那么多现金，尾箱有限额的……"
             "但是态度不好就是不对，该道歉道歉。别骂一线了，我们也很难",
        growth=Growth(reposts=210, comments=1340, attitudes=2800, phases=((1.0, 60, 20),)),
    ),
    WeiboPost(
        key="w-p1", offset=at(hours=4, minutes=4), user="chujiang", truth=INCIDENT, pic_num=1,
        text="【取款5万被拒视频引热议 江城一银行网点服务遭质疑】一段七旬老人在示例银行江城分行新华路网点取款被拒的"
             "视频引发关注。专家：大额现金预约制度有其合理性，但银行执行中应“讲规矩也讲温度”。",
        growth=Growth(reposts=890, comments=1100, attitudes=4200, phases=((1.0, 55, 18),)),
    ),
    WeiboPost(
        key="w-bigv", offset=at(hours=4, minutes=22), user="caijing_laozhou", truth=INCIDENT,
        text="示例银行江城新华路网点这个事，表面是一个预约规则，背后是银行服务的“温度”问题。"
             "老人住院急用钱，哪怕先给取一万、剩下的调款，也不至于闹成这样。金融机构的声誉就是这样一点点丢的。"
             "#七旬老人取5万被拒#",
        growth=Growth(reposts=2950, comments=1870, attitudes=21000, phases=((0.8, 50, 15), (0.2, 150, 40))),
    ),
    WeiboPost(
        key="w-rumour", offset=at(hours=5), user="rumour_a", truth=INCIDENT, pic_num=3,
        text="听说示例银行要倒闭了？？？新华路网点门口已经排长队了，好多人在取钱！！家里有存款在示例银行的赶紧去取，"
             "晚了就取不出来了，5万都不让取说明没钱了啊[惊恐][惊恐]",
        growth=Growth(reposts=1680, comments=950, attitudes=1200, phases=((0.7, 40, 12), (0.3, 90, 20))),
    ),
    WeiboPost(
        key="w-panic-1", offset=at(hours=5, minutes=14), user="panic_mom", truth=INCIDENT,
        text="我妈刚打电话让我赶紧把示例银行的定期全取出来，说群里都在传要倒闭了……我该信吗？有没有懂的",
        growth=Growth(reposts=60, comments=420, attitudes=300, phases=((1.0, 40, 15),)),
    ),
    WeiboPost(
        key="w-panic-2", offset=at(hours=5, minutes=21), user="panic_b", truth=INCIDENT, pic_num=1,
        text="示例银行真的不行了吗 新华路那边现在还在排队吗？？我工资卡就是示例的，急",
        growth=Growth(reposts=35, comments=210, attitudes=90, phases=((1.0, 30, 10),)),
    ),
    WeiboPost(
        key="w-rumour-2", offset=at(hours=5, minutes=33), user="rumour_b", truth=INCIDENT,
        text="内部消息：示例银行江城这边现金已经不够了，各网点都限制取现，大家自己判断吧。转给身边有存款的亲戚",
        growth=Growth(reposts=720, comments=330, attitudes=260, phases=((1.0, 35, 12),)),
    ),
    WeiboPost(
        key="w-debunk", offset=at(hours=5, minutes=47), user="xinhua_cat", truth=INCIDENT, pic_num=2,
        text="不信谣不传谣！我刚下班路过新华路网点，里面就三四个人在办业务，门口根本没有排长队，图是五分钟前拍的。"
             "取钱被拒那个事该骂就骂，但别往“倒闭”上扯啊",
        growth=Growth(reposts=430, comments=260, attitudes=2600, phases=((1.0, 45, 15),)),
    ),
    WeiboPost(
        key="w-official", offset=at(hours=6), user="shili_jc", truth=INCIDENT, pic_num=1,
        text="【情况说明】近日，有网友反映我行新华路网点客户取现受阻一事。经核查，客户当日办理5万元现金支取，"
             "按照大额现金管理有关规定需提前预约，但我行工作人员在解释过程中沟通简单、未充分考虑客户特殊情况，"
             "给客户带来不便，我行深表歉意。目前网点负责人已上门向客户当面致歉，并已为客户办理取款。"
             "我行将严肃处理相关人员，全面开展服务整改。同时郑重声明：我行经营一切正常，资金充足，"
             "各网点业务正常办理。网传“示例银行要倒闭”系不实信息，请广大客户不信谣、不传谣。"
             "示例银行江城分行 客服热线95xxx",
        growth=Growth(reposts=2240, comments=3100, attitudes=9800, phases=((0.75, 40, 14), (0.25, 120, 30))),
    ),
    WeiboPost(
        key="w-jcwb-2", offset=at(hours=6, minutes=15), user="jcwb", truth=INCIDENT, pic_num=1,
        text="【示例银行江城分行回应“取款遭拒”：已向客户致歉 经营一切正常】针对网传七旬老人取5万元被拒一事，"
             "示例银行江城分行发布情况说明，称已为客户办理取款，网点负责人上门致歉；网传“银行要倒闭”系谣言。",
        growth=Growth(reposts=610, comments=540, attitudes=3100, phases=((1.0, 40, 15),)),
    ),
    WeiboPost(
        key="w-police", offset=at(hours=7, minutes=30), user="jc_wangjing", truth=INCIDENT,
        text="【辟谣】近日，网传“示例银行要倒闭”“江城网点限制取现”等信息，经核实，相关信息系网民编造，"
             "该行经营正常。发布不实信息的网民已被依法批评教育。网络不是法外之地，请勿造谣传谣！",
        growth=Growth(reposts=980, comments=310, attitudes=5400, phases=((1.0, 40, 15),)),
    ),
    WeiboPost(
        key="w-relative-2", offset=at(hours=8, minutes=50), user="liu_xiaomei", truth=INCIDENT,
        text="更新一下：我爸的钱已经取到了，网点的负责人带人来医院看了我爸，当面道了歉。谢谢大家关心和转发🙏 "
             "也请大家别传银行倒闭什么的，我们只是想讨个说法，不想害别人。这事就到这里吧",
        growth=Growth(reposts=520, comments=880, attitudes=11200, phases=((1.0, 50, 18),)),
    ),
    WeiboPost(
        key="w-late-1", offset=at(hours=9, minutes=40), user="fin_student", truth=INCIDENT,
        text="复盘一下今天示例银行这个事：规定本身没问题，问题在一线没有弹性+沟通差，然后被谣言放大成“挤兑”。"
             "好在六个小时左右官方出来说明了，节奏算及时。银行的舆情应对真该好好学学",
        growth=Growth(reposts=45, comments=60, attitudes=330, phases=((1.0, 60, 20),)),
    ),
    WeiboPost(
        key="w-late-2", offset=at(hours=11, minutes=10), user="jc_laojie", truth=INCIDENT,
        text="今天路过新华路，示例银行门口贴了个大额取现预约的告示，字挺大的。早这样不就好了",
        growth=Growth(reposts=6, comments=22, attitudes=95, phases=((1.0, 40, 15),)),
    ),
]

# Repost comments per original. Each becomes its own post (``//@`` chains are built by the scenario), timed
# along the original's growth curve. Emotional, neutral and defending voices mixed, as on the real thing.
REPOST_COMMENTS: dict[str, list[str]] = {
    "w-root": [
        "自己的钱都取不出来，离谱", "太过分了吧！！", "老人家好可怜，看哭了", "转发微博",
        "存钱的时候笑脸相迎，取钱的时候各种刁难", "大额取现确实要预约的，这个不怪银行吧",
        "规定是规定，态度是态度，两码事", "保安那一下真的过分了", "江城的朋友帮忙扩散一下",
        "我上次在别的银行取3万也被问了半天用途", "帮转", "[怒][怒][怒]", "心疼大爷",
        "住院押金急用啊，就不能变通一下吗", "预约制度是防诈骗的，但执行得太死板了",
        "示例银行出来回应！", "这种事情以后会越来越多的", "不是说好的以客户为中心呢",
        "柜员也是按规定办事，骂柜员没用，该问的是网点为什么不能调款", "吃瓜，等后续",
        "@江城晚报 关注一下", "我爸妈也在这家存钱的，看得我火大", "哎……", "转发",
        "我觉得大家冷静点，先看看银行怎么说", "说真的，5万不预约哪家银行都够呛", "有点寒心",
        "视频里老人手都在抖", "希望有个好的结果", "这波操作给银行丢人了",
        "新华路这家我去过，排队一直很慢", "自己的钱，还得求着取？", "蹲一个官方回应",
        "建议以后大家都用手机银行预约，省事", "帮顶", "又是“规定就是规定”",
    ],
    "w-hot-local": ["转发微博", "你怎么看？我看着挺气的", "规则没错，方式错了", "围观", "江城的银行服务得改改了",
                    "已经上热门了吧", "又一个“规定就是规定”"],
    "w-lawyer": ["说得很中肯", "专业！", "规定没错，错在处理方式，同意", "这才是理性讨论", "马住",
                 "建议银行好好看看这条", "转发，说得清楚"],
    "w-defend": ["一线确实不容易", "理解柜员，但态度还是要好", "说句公道话的都被骂了", "尾箱限额是真的",
                 "那也不能叫保安把老人弄出去吧"],
    "w-p1": ["省里都报道了", "事情闹大了", "转发微博", "讲规矩也讲温度，说得好", "楚江网都发了，等回应"],
    "w-bigv": ["老周说得对", "声誉就是这样一点点丢的", "转发", "温度！温度！", "金融机构要反思",
               "周老师也关注了", "哪怕先给取一部分也好啊", "说到点子上了", "点赞", "同意"],
    "w-rumour": ["真的假的？？", "吓死，赶紧去取", "别瞎传好吗", "我妈让我去取钱了", "有没有在现场的说一下",
                 "不是吧，那我的定期怎么办", "谣言吧，拿出证据来", "已经有人在排队了？", "转给家里人",
                 "传这种东西要负法律责任的", "我刚问了在示例上班的同学，说没这回事"],
    "w-rumour-2": ["内部消息？哪个内部？", "吓人", "转给我爸妈了", "又在造谣", "赶紧取吧宁可信其有"],
    "w-debunk": ["感谢澄清", "这才是理性的网友", "支持！", "就知道是谣言", "不信谣不传谣"],
    "w-official": ["终于回应了", "道歉了就好", "早干嘛去了", "态度还行", "钱取到了就好", "资金充足就好，吓死了",
                   "回应得还算及时", "转发辟谣", "希望真的整改", "“沟通简单”四个字用得好",
                   "希望不是公关话术", "辟谣了，大家别慌", "那些造谣的该抓"],
    "w-jcwb-2": ["转发", "关注后续", "已阅", "银行回应了"],
    "w-police": ["造谣的就该处理", "支持网警", "散了散了", "转发辟谣"],
    "w-relative-2": ["太好了！", "结果挺好的", "博主格局大", "祝阿姨早日康复", "好人一生平安", "圆满了"],
}

# Users who post reposts of incident items (ordinary accounts; names only, the scenario gives them ids)
REPOSTERS: list[str] = [
    "江城小胖纸", "阿琳今天不加班", "吃不胖的七七", "老王在江城", "一只快乐的咸鱼", "汉口小北", "武昌张大爷",
    "晴天_不会下雨", "momo酱", "江滩散步的猫", "光谷打工人", "爱吃热干面的Lily", "大橙子啊", "风吹麦浪2018",
    "是阿杰呀", "小鹿乱撞的鹿", "江城十三少", "奶茶续命中", "程序猿老李", "钟小燕Yan", "半糖去冰",
    "沙湖边的风", "用户7391823645", "用户5520417783", "南湖看日落", "一颗柠檬精", "小鱼儿不吃鱼",
    "江城吃货研究所", "今天也要元气满满", "东湖骑行客", "老刘说事儿", "宅家的阿花", "周末去哪儿玩",
    "鹦鹉洲的小周", "不想上班的星期一", "柚子茶与猫", "江汉路逛街党", "菜市场的诗人", "认真生活的Amy",
    "夜跑的阿浩",
]
