"""WeChat public-account articles and Douyin videos of the scripted crisis (and a few unrelated ones), served by the
sim's licensed-vendor API (``sim.vendor``). Offsets are from the scenario start, like every content module; the
crisis beats follow ``sim.content.crisis``: the video at t+20m reaches Douyin, self-media accounts write it up, the
run rumour spreads at t+5h, the branch's own account clarifies at t+6h."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sim.model import BANK_POSITIVE, DISTRACTOR, INCIDENT, Growth, at


@dataclass(frozen=True)
class WechatArticle:
    key: str
    offset: timedelta
    account: str
    fans: int
    title: str
    content: str
    truth: str
    growth: Growth  # reposts → 在看, comments → 留言, attitudes → 点赞; reads are ten times the likes plus a base


@dataclass(frozen=True)
class DouyinVideo:
    key: str
    offset: timedelta
    nickname: str
    followers: int
    desc: str
    truth: str
    growth: Growth  # reposts → shares, comments, attitudes → likes (digg); plays are 30 × likes plus a base


WECHAT: list[WechatArticle] = [
    WechatArticle(
        "wx-jc-life", at(hours=1, minutes=40), "江城生活圈", 86_000,
        "七旬老人银行取5万元被拒，家属怒发视频：自己的钱凭什么不让取？",
        "今天上午，一段视频在江城朋友圈刷屏。视频中，一位七旬老人在示例银行江城分行新华路网点要取5万元现金给老伴交"
        "住院押金，柜员以“5万以上需提前预约”为由拒绝办理，双方发生争执，保安随后介入。家属称老人存了十几年的钱，"
        "急用时却取不出来。记者尝试联系网点，截至发稿未获回复。你遇到过取钱被拒的情况吗？欢迎留言。",
        INCIDENT, Growth(380, 260, 1_500, phases=((0.6, 60, 20), (0.4, 200, 40)))),
    WechatArticle(
        "wx-finance-view", at(hours=4, minutes=40), "财经老周说", 410_000,
        "一家银行网点的“规矩”和“温度”：从新华路取款风波说起",
        "示例银行江城新华路网点的取款风波，表面是大额现金预约制度，背后是银行服务的温度。预约不等于拒付，"
        "网点对急需用款的老人本可以先取一部分、协调调款。金融机构的声誉，往往就是在这样的小事里一点点丢掉的。",
        INCIDENT, Growth(900, 420, 3_800, phases=((1.0, 90, 30),))),
    WechatArticle(
        "wx-rumour", at(hours=5, minutes=10), "江城热点速递", 23_000,
        "紧急扩散！示例银行江城多个网点限制取现？有存款的注意了",
        "网传示例银行江城分行现金不够，多个网点已经限制取现，新华路网点门口排起长队。有网友称银行要倒闭了，"
        "建议有存款的市民尽快取出。真实情况如何？本号将持续关注。",
        INCIDENT, Growth(1_600, 900, 2_400, phases=((1.0, 45, 15),))),
    WechatArticle(
        "wx-official", at(hours=6, minutes=5), "示例银行江城分行", 150_000,
        "关于新华路网点客户取款相关情况的说明",
        "近日，有客户反映在示例银行江城分行新华路网点办理大额现金取款时遇到困难。经核实，当日该客户未提前预约大额取现，"
        "网点在解释过程中沟通方式欠妥，我行已向客户致歉并上门办理。目前我行经营正常，各网点现金充足，"
        "网传“限制取现”“银行要倒闭”等消息不实，请广大客户不信谣、不传谣。",
        INCIDENT, Growth(1_200, 300, 2_000, phases=((1.0, 50, 20),))),
    WechatArticle(
        "wx-bank-charity", at(days=-1, hours=-3), "示例银行", 620_000,
        "示例银行开展“金融知识进社区”公益活动",
        "示例银行江城分行组织青年志愿者走进社区，为老年居民讲解防范电信诈骗和养老骗局知识，发放宣传资料三百余份。",
        BANK_POSITIVE, Growth(40, 12, 260, phases=((1.0, 120, 40),))),
    WechatArticle(
        "wx-other-bank", at(hours=3), "湖北金融观察", 51_000,
        "另一家银行的手机银行昨夜宕机两小时",
        "昨夜，某城商行手机银行出现故障，用户无法登录转账，持续约两小时。该行称系统升级所致，目前已恢复。",
        DISTRACTOR, Growth(60, 80, 300, phases=((1.0, 60, 20),))),
]

DOUYIN: list[DouyinVideo] = [
    DouyinVideo(
        "dy-root", at(minutes=35), "刘小美", 1_200,
        "我爸去示例银行新华路网点取自己的5万块钱给我妈交住院押金，柜员说没预约不给取，还叫保安把我们请出去 "
        "#江城 #银行",
        INCIDENT, Growth(2_600, 4_100, 38_000, phases=((0.5, 90, 25), (0.5, 260, 50)))),
    DouyinVideo(
        "dy-local-news", at(hours=2, minutes=20), "江城晚报", 880_000,
        "七旬老人取5万元现金被拒，家属质疑银行网点服务，示例银行江城分行：正在核实 #江城身边事",
        INCIDENT, Growth(1_100, 2_300, 21_000, phases=((1.0, 80, 25),))),
    DouyinVideo(
        "dy-queue", at(hours=5, minutes=5), "江城随手拍", 6_400,
        "示例银行新华路网点门口排长队了？听说要倒闭了，大家都在取钱 #挤兑",
        INCIDENT, Growth(1_900, 2_800, 9_500, phases=((1.0, 40, 12),))),
    DouyinVideo(
        "dy-official", at(hours=6, minutes=20), "示例银行江城分行", 95_000,
        "示例银行江城分行情况说明：我行经营正常，各网点现金充足，网传“限制取现”不实，已向新华路网点客户致歉",
        INCIDENT, Growth(700, 1_500, 8_000, phases=((1.0, 60, 20),))),
    DouyinVideo(
        "dy-food", at(hours=1), "江城吃货", 33_000,
        "新华路新开的热干面，排队半小时值不值？",
        DISTRACTOR, Growth(120, 340, 2_600, phases=((1.0, 90, 30),))),
]
