"""The words of the unit view: verdicts, reasons, states, roles, events and the page's
fixed lines, in English and Simplified Chinese (merged into
`api.consumer.i18n.MESSAGES`). Plain text only."""

# Chinese uses full-width punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "site": ("Product check", "商品真伪查询"),
    "switch": ("中文", "English"),
    # verdicts: title, what it means, what to do
    "genuine.title": ("Genuine", "正品"),
    "genuine.means": (
        "The brand registered this item, and each step of its journey below was "
        "confirmed by the company that handled it.",
        "该商品由品牌方登记，下方每一步流转都经过经手企业的确认。",
    ),
    "genuine.todo": (
        "Check that the details below match the item in your hands. Keep the code printed "
        "inside the package: after you buy, it lets you claim the item as yours.",
        "请核对下方信息与您手中的商品是否一致。请妥善保管印在包装内的认领码，购买后可凭此码认领商品。",
    ),
    "caution.title": ("Caution", "请注意"),
    "caution.means": (
        "The brand registered this item, but something about it needs your attention.",
        "该商品由品牌方登记，但存在需要您注意的情况。",
    ),
    "caution.todo": (
        "Read each point above before you buy or use it. If anything does not match what "
        "the seller told you, do not buy it.",
        "购买或使用前请逐条阅读上方说明。如有与卖家所说不符之处，请勿购买。",
    ),
    "unknown.title": ("Not found: likely counterfeit", "未找到：可能是假冒产品"),
    "unknown.means": (
        "This code is not in the brand's register. Every genuine item carries a code "
        "its brand registered.",
        "品牌方的登记记录中没有此码。每件正品上的码都经过品牌方登记。",
    ),
    "unknown.todo": (
        "Do not buy it. If you already bought it, keep the receipt and the packaging and "
        "report it to the seller, the brand or the platform.",
        "请勿购买。如已购买，请保留购物凭证和包装，并联系卖家、品牌方或平台反映情况。",
    ),
    "invalid.title": ("Warning: this record may be forged", "警告：此记录可能是伪造的"),
    "invalid.means": (
        "This item's record does not hold together: part of it was changed after the "
        "companies confirmed it. Do not trust it.",
        "该商品的记录前后对不上：有内容在经手企业确认之后被改动过。请勿相信此记录。",
    ),
    "invalid.todo": (
        "Do not buy it on the strength of this page. Contact the brand and report it.",
        "请勿凭此页面决定购买，并请联系品牌方举报。",
    ),
    "todo": ("What to do: ", "建议："),  # the space belongs to English only
    # reasons (docs/API.md reason codes): title, explanation
    "r.sold": ("Already sold", "已售出"),
    "r.sold.why": (
        "This item was already sold to a customer. If it is offered to you as new, the "
        "code may have been copied from a sold item.",
        "该商品已售给顾客。如果有人把它当作全新商品卖给您，此码可能是从已售商品上复制的。",
    ),
    "r.returned-after-sale": ("Returned after sale on {date}", "已于{date}售出，后被退回"),
    "r.returned-after-sale.nodate": ("Returned after a sale", "售出后被退回"),
    "r.returned-after-sale.why": (
        "This item was sold to a customer and came back by a return. It is genuine but "
        "not new: check that it is complete and unused, and ask the seller about it.",
        "该商品曾售给顾客，后被退回。它是正品，但并非全新：请检查商品是否完整、未经使用，"
        "并向卖家问清情况。",
    ),
    "r.resold": ("Sold again after a return", "退回后再次售出"),
    "r.resold.why": (
        "This item was sold, returned and sold again (last on {date}). If it was offered "
        "to you as new, ask the seller about its history.",
        "该商品曾售出并被退回，之后再次售出（最近一次售出于{date}）。"
        "如果有人把它当作全新商品卖给您，请向卖家问清来历。",
    ),
    "r.claimed": ("Already claimed by a buyer", "已被买家认领"),
    "r.claimed.why": (
        "Someone who bought this item has registered it as theirs. If that was not you, "
        "do not buy it: the code may have been copied.",
        "已有买家将该商品登记为本人所有。如果认领人不是您，请勿购买，此码可能已被复制。",
    ),
    "r.recalled": ("Recalled by the brand", "品牌方已召回"),
    "r.recalled.why": (
        "The brand has recalled this item. Stop using it, and keep it and its packaging "
        "for the return.",
        "品牌方已召回该商品。请停止使用，并保留商品及包装，以便办理退货。",
    ),
    "r.decommissioned": ("Taken out of circulation", "已停止流通"),
    "r.decommissioned.why": (
        "This item was recorded as destroyed or used up. It should not be for sale.",
        "记录显示该商品已销毁或已用完，不应再有人出售。",
    ),
    "r.consumed": ("Used up", "已用完"),
    "r.consumed.why": (
        "Its owner marked this item used up. A full one is a refill.",
        "商品所有人已将其标记为用完。如果仍是满的，说明是重新灌装的。",
    ),
    "r.flagged": ("Flagged as suspicious", "已被标记为可疑"),
    "r.flagged.why": (
        "The brand or the platform has marked this item as suspicious. Ask the seller "
        "where it came from before you buy.",
        "品牌方或平台已将该商品标记为可疑。购买前请向卖家问清来源。",
    ),
    "r.flagged.count": ("Flagged {count} times.", "已被标记{count}次。"),
    "r.revoked-handler": ("Handled by a revoked company", "经手方已被撤销资格"),
    "r.revoked-handler.why": (
        "A company that handled this item has since lost its registration: {names}. Its "
        "records may not be reliable; ask the seller where the item came from.",
        "曾经手该商品的企业已被撤销资格：{names}。其记录可能不可靠，请向卖家问清商品来源。",
    ),
    "r.inspection-failed": ("Failed its latest inspection", "最近一次检验未通过"),
    "r.inspection-failed.why": (
        "An inspector recorded a failed inspection for this item. Ask the seller about it "
        "before you buy, or contact the brand.",
        "检验机构的记录显示该商品检验未通过。购买前请向卖家问清情况，或联系品牌方。",
    ),
    "r.recovered-key": ("Signed with a recently recovered key", "签名所用的密钥为近期补发"),
    "r.recovered-key.why": (
        "The company that signed this record had lost its keys, and the platform gave it a "
        "new one less than 30 days before. Ask the seller where the item came from.",
        "签署此记录的企业曾丢失密钥，平台在不到 30 天前为其补发了新密钥。请向卖家问清商品来源。",
    ),
    "r.key-compromised": ("Signed with a stolen key", "签名所用的密钥已被盗用"),
    "r.key-compromised.why": (
        "A record of this item was signed after its signer reported the key as stolen or "
        "leaked. The record may be forged; ask the brand before you buy.",
        "该商品有一条记录是在签署方报告密钥被盗或泄露之后才签署的，可能是伪造的。购买前请向品牌方核实。",
    ),
    "r.label-invalid": ("Forged label", "标签是伪造的"),
    "r.label-invalid.why": (
        "The brand's signature on this label is wrong, so the brand did not print this "
        "label. Do not buy the item, and report it.",
        "此标签上的品牌签名验证失败，说明该标签并非品牌方印制。请勿购买，并请举报。",
    ),
    "r.checkpoint-invalid": ("The register's seal is broken", "公开日志的签名无效"),
    "r.leaf-hash-invalid": ("A record was changed", "有记录被改动过"),
    "r.proof-invalid": ("A record is missing from the register", "公开日志中查不到某条记录"),
    "r.signature-invalid": (
        "A record was not confirmed by its company",
        "某条记录未经对应企业确认",
    ),
    "r.chain-broken": ("The history has a gap or a fork", "流转记录有缺失或分叉"),
    "r.chain-incomplete": ("Part of the history was left out", "部分流转记录被隐去"),
    # a client's check of the checkpoint's age (ledger.verify.freshness), never served
    "r.checkpoint-stale": ("The register's answer is out of date", "公开日志返回的记录已过时"),
    "r.bad-timestamp": ("The register's date cannot be read", "公开日志的时间戳无法识别"),
    "r.bad-cosignature": ("A witness's seal is forged", "见证方的签名是伪造的"),
    "r.unknown-witness": ("Only an unknown witness vouches for it", "仅有身份不明的见证方为其背书"),
    "r.tamper.why": (
        "This should never happen: the record may have been tampered with.",
        "正常情况下不会出现这种问题，记录可能已被篡改。",
    ),
    "reason": ("Reason: {text}", "原因：{text}"),
    # a recall whose reason is ledger.service.batches.VOID_REASON (docs/CONSOLE.md)
    "reason.voided": (
        "The brand voided the print batch of this label: it should not be in use.",
        "品牌方已作废该标签所属的印刷批次：此标签不应出现在市面上的商品上。",
    ),
    "note": ("Note: {text}", "备注：{text}"),
    # the scan message (docs/SIGNALS.md, "Scans and clone signals"), word for word
    "scans": (
        "This code has been checked {count} times; first on {date} in {place}.",
        "此码已被查询{count}次，首次查询于{date}，地点为{place}。",
    ),
    "scans.noplace": (
        "This code has been checked {count} times; first on {date}.",
        "此码已被查询{count}次，首次查询于{date}。",
    ),
    "scans.none": ("This code has not been checked before.", "此码此前未被查询过。"),
    "scans.hint": (
        "If the first check was not yours, this code may have been copied.",
        "如果首次查询的人不是您，此码可能已被复制。",
    ),
    # product and status
    "h.product": ("Product", "商品信息"),
    "h.status": ("Status", "状态信息"),
    "h.history": ("History", "流转记录"),
    "h.scanned": ("The code you checked", "您查询的码"),
    "f.name": ("Product", "商品名称"),
    "f.brand": ("Brand", "品牌"),
    "f.gtin": ("GTIN", "商品条码（GTIN）"),
    "f.serial": ("Serial", "序列号"),
    "f.lot": ("Lot", "批号"),
    "f.expiry": ("Expires", "有效期至"),
    "f.expired": ("{date} (expired)", "{date}（已过期）"),
    "f.state": ("Now", "当前状态"),
    "f.holder": ("Held by", "当前持有方"),
    "f.claim": ("Ownership", "认领状态"),
    "f.recall": ("Recall", "召回状态"),
    "f.inspections": ("Inspections", "检验结果"),
    "f.label": ("Label", "标签"),
    "unnamed": ("Unnamed product", "未命名商品"),
    "s.in_stock": ("In stock", "库存中"),
    "s.in_transit": ("On its way to {to}", "正在运往{to}"),
    "s.sold": ("Sold", "已售出"),
    "s.delivered": ("Delivered to its buyer", "已交付买家"),
    "s.claimed": ("Claimed by its buyer", "已被买家认领"),
    "s.decommissioned": ("Out of circulation", "已停止流通"),
    "claim.yes": ("Claimed by a buyer", "已被买家认领"),
    "claim.no": ("Not claimed yet", "尚未认领"),
    "recall.yes": ("Recalled by the brand", "品牌方已召回"),
    "recall.no": ("No recall", "未召回"),
    "insp.none": ("None recorded", "暂无记录"),
    "insp.count": ("{passed} passed, {failed} failed", "{passed}次合格，{failed}次不合格"),
    "label.valid": (
        "The brand's signature on this label checks out",
        "标签上的品牌签名验证通过",
    ),
    "label.invalid": (
        "The brand's signature on this label is wrong",
        "标签上的品牌签名验证失败",
    ),
    "label.unsigned": ("This label carries no brand signature", "此标签没有品牌签名"),
    "label.mismatch": (
        "The label's lot or expiry is not this item's",
        "标签上的批号或有效期与该商品不符",
    ),
    "revoked": ("registration revoked", "资格已被撤销"),
    # roles
    "role.operator": ("Platform", "平台"),
    "role.brand": ("Brand", "品牌方"),
    "role.warehouse": ("Warehouse", "仓库"),
    "role.courier": ("Courier", "物流"),
    "role.retailer": ("Retailer", "零售商"),
    "role.customs": ("Customs", "海关"),
    "role.inspector": ("Inspector", "检验机构"),
    # timeline verbs
    "v.commission": ("Made by {actor}", "由{actor}生产登记"),
    "v.handoff": ("Handed to {to}", "移交给{to}"),
    "v.receive": ("Received by {actor}", "{actor}已接收"),
    "v.inspect.pass": ("Inspected: passed", "检验：合格"),
    "v.inspect.fail": ("Inspected: FAILED", "检验：不合格"),
    "v.sell": ("Sold by {actor}", "由{actor}售出"),
    "v.deliver": ("Delivered to the buyer by {actor}", "由{actor}交付买家"),
    "v.claim": ("Claimed by its buyer", "已被买家认领"),
    "v.return": ("Returned to {to}", "退回给{to}"),
    "v.recall": ("Recalled by {actor}", "由{actor}召回"),
    "v.decommission": ("Taken out of circulation", "已停止流通"),
    "v.flag": ("Flagged as suspicious", "已被标记为可疑"),
    "v.consume": ("Marked used up by its owner", "所有人已标记为用完"),
    "v.pack": ("Packed by {actor} into container {container}", "由{actor}装入箱{container}"),
    "v.unpack": (
        "Unpacked by {actor} from container {container}",
        "由{actor}从箱{container}取出",
    ),
    "v.other": ("Recorded: {kind}", "记录：{kind}"),
    "where": ("Where: {place}", "地点：{place}"),
    "entry": ("log entry #{index}", "日志第{index}条"),
    "history.empty": ("No history recorded.", "暂无流转记录。"),
    # footer
    "footer.proof": (
        "Every entry is signed by whoever made it and proven in a public, append-only "
        "log ({size} entries at this check).",
        "每条记录都由经手方签名，并可在公开、只增不改的日志中查证（本次查询时共{size}条）。",
    ),
    "footer.proof.nosize": (
        "Every entry is signed by whoever made it and proven in a public, append-only log.",
        "每条记录都由经手方签名，并可在公开、只增不改的日志中查证。",
    ),
    "footer.json": ("Data for verifiers (signed JSON)", "供核验的数据（签名 JSON）"),
    "footer.download": ("offline proof file", "离线证明文件"),
    "footer.witnesses": (
        "{vouched} of {configured} independent witnesses vouch for this history.",
        "{configured}个独立见证方中有{vouched}个为此记录背书。",
    ),
    "footer.checked": ("Checked on {when}", "查询时间：{when}"),
    "footer.age": (
        "Checked against the public log as of about {age} ago.",
        "本页依据约{age}前的公开日志核对。",
    ),
    "age.s": ("{n} s", "{n}秒"),
}
