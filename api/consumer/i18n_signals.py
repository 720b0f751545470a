"""The consumer page's words for claims, clone signals, reports and the blacklist, in
English and Simplified Chinese (merged into
`api.consumer.i18n.MESSAGES`). Plain text only."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    # reasons (docs/API.md reason codes)
    "r.owned": ("Yours", "您的商品"),
    "r.owned.why": (
        "You claimed this item with the code inside its package: the record shows it as yours.",
        "您已凭包装内的认领码认领该商品，记录显示它归您所有。",
    ),
    "r.held-by-revoked": ("Held by a revoked company", "持有方已被撤销资格"),
    "r.held-by-revoked.why": (
        "The company that holds this item has lost its registration: {names}. Do not buy "
        "it from them.",
        "目前持有该商品的企业已被撤销资格：{names}。请勿从该企业购买。",
    ),
    "r.post-claim-scans": ("Checked by others after it was claimed", "被认领后仍有他人查询"),
    "r.post-claim-scans.why": (
        "Its buyer claimed this item on {date}; since then {clients} other people checked "
        "this code (your check included). If it is offered to you as new, the code may be "
        "a copy.",
        "买家已于{date}认领该商品，此后另有{clients}人查询过此码（含您的查询）。"
        "如果有人把它当作全新商品卖给您，此码可能已被复制。",
    ),
    "r.post-claim-scans.why.one": (
        "Its buyer claimed this item on {date}; since then only you have checked this "
        "code. If it is offered to you as new, the code may be a copy.",
        "买家已于{date}认领该商品，此后只有您查询过此码。"
        "如果有人把它当作全新商品卖给您，此码可能已被复制。",
    ),
    "r.impossible-travel": ("Checked in places too far apart", "查询地点相距过远"),
    "r.impossible-travel.why": (
        "This code was checked in {from_place} and {minutes} minutes later in {to_place}, "
        "{km} km away: no one item travels that fast. The code has probably been copied.",
        "此码先在{from_place}被查询，{minutes}分钟后又在{km}公里外的{to_place}被查询。"
        "同一件商品不可能在这么短的时间内移动这么远，此码很可能已被复制。",
    ),
    "r.many-scanners": ("Checked by too many people", "查询人数异常"),
    "r.many-scanners.why": (
        "{clients} different people checked this code within one day, more than one item "
        "plausibly has. The code may have been copied onto other items.",
        "一天之内有{clients}个不同的人查询了此码，单件商品不太可能被这么多人查询。"
        "此码可能已被复制到其他商品上。",
    ),
    "r.serial-probing": (
        "Invented codes of this product are being checked",
        "有人在查询编造的序列号",
    ),
    "r.serial-probing.why": (
        "{serials} serial numbers of this product that the brand never made have been "
        "checked: someone is printing invented codes.",
        "已有人查询了此款商品的{serials}个序列号，但品牌方从未生产过带有这些序列号的商品，"
        "说明有人在印制编造的码。",
    ),
    "r.reported": ("Reported by buyers", "已被买家举报"),
    "r.reported.why": (
        "{count} reports about this item are open; the brand is looking into them. Ask "
        "the seller before you buy.",
        "关于该商品有{count}条举报尚在处理中，品牌方正在调查。购买前请向卖家问清情况。",
    ),
    "r.reported.why.one": (
        "A report about this item is open; the brand is looking into it. Ask the seller "
        "before you buy.",
        "关于该商品有 1 条举报尚在处理中，品牌方正在调查。购买前请向卖家问清情况。",
    ),
    "r.report-under-review": ("A report is under review", "有举报正在核查中"),
    "r.report-under-review.why": (
        "Someone reported a problem with this item ({count} open). The brand is "
        "checking it; until the brand confirms it, or other buyers report it too, it does "
        "not change the result above.",
        "有人举报该商品存在问题（{count}条举报待处理），品牌方正在核查。"
        "在品牌方确认或有其他买家提出同样的举报之前，上方的结论不受影响。",
    ),
    "r.label-unsigned": ("Label not signed", "标签未经品牌签名"),
    "r.label-unsigned.why": (
        "The code you scanned carries no brand signature. The brand signs every label it "
        "prints, and real serial numbers are public, so a label without a signature may "
        "have been printed by someone else. Scan the label on the package itself, not a "
        "link or code someone sent you.",
        "您扫描的码没有品牌签名。品牌方印制的每个标签都带有签名，而真实的序列号是公开的，"
        "所以没有签名的标签可能是他人印制的。请直接扫描商品包装上的标签，不要扫描他人发给您的链接或码。",
    ),
    "r.label-mismatch": ("Label not made for this item", "标签与该商品不符"),
    "r.label-mismatch.why": (
        "The label shows {field} {shown}, but this item was registered with {recorded}. "
        "The label was not printed for this item: do not buy it, and report it.",
        "标签上的{field}为{shown}，但该商品登记的{field}为{recorded}。"
        "此标签并非为该商品印制。请勿购买，并请举报。",
    ),
    "label.field.lot": ("lot", "批号"),
    "label.field.expiry": ("expiry date", "有效期"),
    "label.none": ("none", "无"),
    "place.hint": (
        "{place} (the scanner's own word, not verified)",
        "{place}（由查询者自行提供，未经核实）",
    ),
    # the claim form
    "h.claim": ("Claim this item", "认领商品"),
    "claim.hint": (
        "Bought it? Enter the code printed inside the package to record the item as "
        "yours. Bought it second-hand? Enter the transfer code the seller gave you.",
        "已购买？请输入印在包装内的认领码，将商品登记为您所有。如为二手购买，请输入卖家提供的转让码。",
    ),
    "claim.code": ("Code", "认领码或转让码"),
    "claim.submit": ("Claim", "认领"),
    "claim.done.title": ("Claimed: this item is yours", "认领成功：该商品归您所有"),
    "claim.done.transfer": (
        "Your transfer code, shown only now: write it down. Give it to the buyer if you "
        "ever sell this item; it works once.",
        "这是您的转让码，仅显示这一次，请记下。日后如转卖该商品，请将此码交给买家；此码只能使用一次。",
    ),
    "claim.back": ("Back to the item", "返回商品页面"),
    # the report form
    "h.report": ("Report a problem", "举报问题"),
    "report.reason": ("What is wrong?", "问题类型"),
    "report.reason.counterfeit": ("I think it is fake", "我认为是假货"),
    "report.reason.already-claimed": ("Claimed by someone else", "已被他人认领"),
    "report.reason.label-mismatch": ("Label does not match the item", "标签与商品不符"),
    "report.reason.damaged": ("Damaged or tampered package", "包装损坏或被拆封"),
    "report.reason.seller": ("Problem with the seller", "卖家问题"),
    "report.reason.other": ("Something else", "其他"),
    "report.text": ("Details (optional)", "详细说明（选填）"),
    "report.photo": ("Photo (optional, up to 2 MB)", "照片（选填，不超过 2 MB）"),
    "report.where": (
        "Where you bought it: shop name or listing URL (optional)",
        "购买渠道：店铺名称或商品链接（选填）",
    ),
    "report.submit": ("Send report", "提交举报"),
    "report.done.title": ("Thank you: your report was sent", "举报已提交，谢谢您"),
    "report.done.text": (
        "The brand will look into it. Report number: {id}.",
        "品牌方将跟进调查。举报编号：{id}。",
    ),
    "error.title": ("That did not work", "操作未成功"),
}
