"""行政处罚信息公开表 of the fictional 国家金融监督管理总局江城监管分局.

Penalties are public, slow-moving and mostly about other institutions; the one on 示例银行 is a modest, months-old
case, so a monitor should file it as history rather than raise a new alarm.
"""

from __future__ import annotations

from sim.model import BANK_BACKGROUND, DISTRACTOR, Penalty, at

AUTH = "国家金融监督管理总局江城监管分局"

PENALTIES: list[Penalty] = [
    Penalty("r-01", at(days=-130), "江金罚决字〔2026〕21号", "示例银行股份有限公司江城分行",
            "个人贷款“三查”不尽职，部分贷款资金被挪用于购房；未按规定报送部分统计数据。",
            "罚款人民币45万元；对相关责任人员给予警告。", AUTH, BANK_BACKGROUND, legal_rep="孙华"),
    Penalty("r-02", at(days=-95), "江金罚决字〔2026〕28号", "江城某村镇银行股份有限公司",
            "贷款风险分类不准确；员工行为管理不到位。", "罚款人民币60万元。", AUTH, DISTRACTOR),
    Penalty("r-03", at(days=-70), "江金罚决字〔2026〕33号", "某财产保险股份有限公司江城中心支公司",
            "编制虚假财务资料；给予投保人合同约定以外的利益。", "罚款人民币38万元；对相关责任人员罚款8万元。", AUTH,
            DISTRACTOR),
    Penalty("r-04", at(days=-52), "江金罚决字〔2026〕37号", "江城农村商业银行股份有限公司",
            "违规向房地产开发企业发放流动资金贷款；信贷资产质量不真实。", "罚款人民币120万元。", AUTH, DISTRACTOR),
    Penalty("r-05", at(days=-33), "江金罚决字〔2026〕41号", "某股份制商业银行江城分行",
            "信用卡业务管理不审慎，分期业务收费不规范。", "罚款人民币80万元。", AUTH, DISTRACTOR),
    Penalty("r-06", at(days=-18), "江金罚决字〔2026〕44号", "某人寿保险股份有限公司江城中心支公司",
            "销售误导，欺骗投保人。", "罚款人民币25万元；对相关责任人员给予警告并罚款2万元。", AUTH, DISTRACTOR),
    Penalty("r-07", at(days=-6), "江金罚决字〔2026〕46号", "江城某消费金融有限公司",
            "催收管理不到位，委外催收机构存在不当催收行为。", "罚款人民币50万元。", AUTH, DISTRACTOR),
    Penalty("r-08", at(hours=3, minutes=30), "江金罚决字〔2026〕47号", "某城市商业银行江城分行",
            "违反反洗钱规定，未按规定履行客户身份识别义务。", "罚款人民币70万元。", AUTH, DISTRACTOR),
]
