"""The words of the shopper's headlines, the claim page, the error pages and the "How to
check a product" page, in English and Simplified Chinese (merged into
`api.consumer.i18n.MESSAGES`). Plain text only."""

# Chinese uses full-width punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "brand.the": ("the brand", "品牌方"),
    "f.support": ("Support", "客服"),
    "scans.first": ("This is the first check of this code.", "这是此码的首次查询。"),
    "details": ("Technical details", "技术细节"),
    "help.link": ("How to check a product", "如何查验商品"),
    "retailers.link": ("Shops {brand} authorizes to sell it", "{brand}授权的销售商"),
    "retailers.title": ("Shops {brand} authorizes", "{brand}授权的销售商"),
    "retailers.why": (
        "Buy from these shops, or ask a seller to show you it is on this list. The list "
        "comes from the brand's own signed authorizations, in force today.",
        "请在这些商家购买，或请卖家证明其在此名单中。名单来自品牌方本人签名、目前有效的授权记录。",
    ),
    "retailers.item": ("{name}, authorized until {date}", "{name}，授权至{date}"),
    "retailers.none": (
        "{brand} authorizes no shop here today.",
        "{brand}目前在此未公布任何授权销售商。",
    ),
    # the neutral headline of a sold, unclaimed unit
    "sold.title": ("Sold on {date}", "已于{date}售出"),
    "sold.title.nodate": ("Already sold", "已售出"),
    "sold.new": (
        "Just bought it? Claim it now with the code inside the package, so the record "
        "shows it is yours.",
        "刚买下？请马上用包装内的认领码认领，记录就会显示它归您所有。",
    ),
    "sold.second": (
        "Buying it second-hand? Ask the seller for the transfer code. Offered to you as "
        "new? Do not buy it: this item has already been sold once.",
        "买的是二手？请向卖家索要转让码。如果卖家称是全新商品，请勿购买，因为该商品已经售出过一次。",
    ),
    "sold.todo": (
        "Check that the details below match the item in your hands.",
        "请核对下方信息与您手中的商品是否一致。",
    ),
    "sold.cta": ("Claim it now", "立即认领"),
    # a recall
    "consumed.title": ("Used up on {date}", "已于{date}用完"),
    "consumed.title.nodate": ("Already used up", "已用完"),
    "consumed.means": (
        "Its owner recorded that this item was used up. If it is full or sealed, it was "
        "refilled or repacked: it is not the original.",
        "商品所有人已登记该商品用完。如果它仍是满的或封口完好，说明已被重新灌装或重新包装，并非原装商品。",
    ),
    "consumed.todo": (
        "Do not buy it. Report it to the platform or the brand.",
        "请勿购买，并向平台或品牌方举报。",
    ),
    "consume.action": ("Mark as used up", "标记为已用完"),
    "consume.why": (
        "Finished it? Mark it used up: anyone who scans this code later is told, so the "
        "empty container cannot be refilled and sold as new. This cannot be undone.",
        "已经用完？请标记为已用完：之后任何人扫描此码都会看到提示，空瓶无法被重新灌装后当作新品出售。此操作无法撤销。",
    ),
    "consume.done": ("Marked as used up", "已标记为已用完"),
    "consume.refused": ("Not marked", "未能标记"),
    "consume.not-owner": (
        "Only the owner can mark this item used up, from the phone or browser that claimed it.",
        "只有商品所有人才能将其标记为已用完，请使用认领时所用的手机或浏览器操作。",
    ),
    "consume.consumed": ("It was already marked used up.", "该商品此前已被标记为已用完。"),
    "consume.other": ("Please try again later.", "请稍后再试。"),
    "consume.done.why": (
        "Anyone who scans this code from now on is told it was used up.",
        "从现在起，任何人扫描此码都会看到该商品已用完。",
    ),
    "recall.title": ("Recalled: do not use", "已召回：请勿使用"),
    "recall.means": (
        "The brand has recalled this item. Stop using it.",
        "品牌方已召回该商品，请立即停止使用。",
    ),
    "recall.contact": (
        "Contact {brand} ({support}) for a refund or a replacement.",
        "请联系{brand}（{support}）办理退款或换货。",
    ),
    "recall.contact.none": (
        "Contact {brand} or the seller for a refund or a replacement.",
        "请联系{brand}或卖家办理退款或换货。",
    ),
    # a forged label
    "forged.title": ("This label was not printed by {brand}", "此标签不是{brand}印制的"),
    "forged.means": (
        "The brand's signature on this label is wrong: someone else printed it and copied "
        "the serial number of a real item.",
        "标签上的品牌签名验证失败：这是他人仿印的标签，盗用了一件正品的序列号。",
    ),
    "forged.where.held": (
        "The real {serial} is with {holder}.",
        "序列号为{serial}的正品目前在{holder}处。",
    ),
    "forged.where.sold": (
        "The real {serial} has already been sold by the brand's shops.",
        "序列号为{serial}的正品已由品牌方渠道售出。",
    ),
    "forged.where.unknown": (
        "The real {serial} is in the brand's register.",
        "序列号为{serial}的正品已在品牌方登记。",
    ),
    "forged.todo": (
        "Do not buy it. If you already bought it, keep the receipt and the packaging and "
        "report it below.",
        "请勿购买。如已购买，请保留购物凭证和包装，并在下方举报。",
    ),
    "forged.cta": ("Report this label", "举报此标签"),
    # the claim page opened by the code inside the package
    "cp.title": ("Claim your item", "认领您的商品"),
    "cp.lead": (
        "The code from inside the package is filled in. Tap the button to record this "
        "item as yours.",
        "包装内的认领码已自动填好。点击下方按钮，即可将该商品登记为您所有。",
    ),
    "cp.lead.empty": (
        "Type the code printed inside the package.",
        "请输入印在包装内的认领码。",
    ),
    "cp.submit": ("Claim it as mine", "认领为我的商品"),
    "cp.what.title": ("What claiming does", "认领之后"),
    "cp.what": (
        "Once claimed, this item's page shows that it has an owner, to anyone who checks "
        "it. You get a transfer code: keep it, and give it to the buyer if you ever sell "
        "the item.",
        "认领后，任何人查询该商品都会看到它已有主人。您会得到一个转让码，请妥善保存；"
        "日后如转卖，把转让码交给买家即可。",
    ),
    "cp.already": ("This item has already been claimed", "该商品已被认领"),
    "cp.already.why": (
        "Someone has registered this item as theirs. If you just bought it new, the code "
        "may have been copied: report it.",
        "已有人将该商品登记为本人所有。如果您刚买的是全新商品，此码可能被复制了，请举报。",
    ),
    "cp.yours": ("This item is yours", "该商品归您所有"),
    "cp.yours.why": (
        "You claimed it on this phone. Nothing more to do.",
        "您已在这部手机上认领过该商品，无需再做任何操作。",
    ),
    "cp.cannot": ("This item cannot be claimed", "该商品无法认领"),
    "cp.cannot.why": (
        "It is out of circulation, or it was registered without a claim code.",
        "该商品已停止流通，或登记时没有设置认领码。",
    ),
    "cp.check": ("See this item's full check", "查看该商品的完整查验结果"),
    "cp.warn": (
        "After {max} wrong codes in a row, claiming this item pauses for {wait}.",
        "连续输错{max}次后，需等待{wait}才能再次认领。",
    ),
    "cp.done.kept": (
        "This page now shows the item as yours on this phone; anyone else who checks it "
        "sees that it has an owner.",
        "此后在这部手机上查询，页面会显示该商品归您所有；其他人查询时会看到它已有主人。",
    ),
    # claim errors, as the shopper reads them
    "ce.format": (
        "This is not a claim code. A claim code has 17 letters and digits, printed like "
        "ABCD-EFGH-JKMN-PQRS-T: check what you typed.",
        "这不是认领码。认领码由 17 位字母和数字组成，"
        "格式如 ABCD-EFGH-JKMN-PQRS-T，请检查您输入的内容。",
    ),
    "ce.typo": (
        "The code has a typo: one character does not fit. Check it against the code "
        "inside the package.",
        "认领码有输入错误：其中有一个字符不对，请对照包装内的认领码检查。",
    ),
    "ce.wrong": (
        "This code does not match this item. Check it against the code inside the package.",
        "此码与该商品不匹配，请对照包装内的认领码检查。",
    ),
    "ce.left": (
        "{n} more tries, then claiming pauses for {wait}.",
        "还可再试{n}次，之后需等待{wait}才能再次认领。",
    ),
    "ce.left.one": (
        "1 more try, then claiming pauses for {wait}.",
        "还可再试 1 次，之后需等待{wait}才能再次认领。",
    ),
    "ce.left.none": (
        "No tries left: the next one can come in {wait}.",
        "已没有剩余次数，请在{wait}后再试。",
    ),
    "ce.locked": (
        "Too many wrong codes. Please try again in {wait}.",
        "输错次数过多，请在{wait}后再试。",
    ),
    "ce.claimed": (
        "This item has already been claimed. To take it over from its owner, enter the "
        "transfer code they gave you.",
        "该商品已被认领。如需从原主人处接手，请输入对方提供的转让码。",
    ),
    "ce.nocode": (
        "This item was registered without a claim code, so it cannot be claimed.",
        "该商品登记时没有设置认领码，因此无法认领。",
    ),
    "ce.notfound": (
        "This item is not in the brand's register.",
        "品牌方的登记记录中没有该商品。",
    ),
    "ce.busy": (
        "Too many requests from your network. Please try again in {wait}.",
        "您所在网络的请求过多，请在{wait}后再试。",
    ),
    "ce.expired": (
        "This form has expired. Go back, reload the page and try again.",
        "表单已过期，请返回并刷新页面后重试。",
    ),
    "ce.other": (
        "That did not work, and nothing was recorded. Please try again.",
        "操作未成功，也未记录任何内容，请重试。",
    ),
    "wait.s": ("{n} seconds", "{n}秒"),
    "wait.min": ("{n} min", "{n}分钟"),
    "wait.h": ("{n} h", "{n}小时"),
    # error pages
    "ep.404.title": ("Page not found", "页面不存在"),
    "ep.404.text": (
        "There is nothing at this address. To check a product, scan the code on its label.",
        "此网址没有内容。如需查验商品，请扫描商品标签上的二维码。",
    ),
    "ep.gtin.title": ("This code cannot be read", "无法识别此码"),
    "ep.gtin.text": (
        "The product number in this link is not valid, so it cannot come from a genuine "
        "label. Scan the label on the package itself; if this is the code printed on it, "
        "the label is likely fake.",
        "此链接中的商品编号无效，不可能来自正品标签。请直接扫描商品包装上的标签；"
        "如果包装上印的就是这个码，该标签很可能是假的。",
    ),
    "ep.form.text": (
        "The form could not be read: something in it is too long. Go back and check what "
        "you typed.",
        "无法读取表单：填写的内容过长。请返回检查您输入的内容。",
    ),
    "ep.busy.title": ("Too many checks", "查询过于频繁"),
    "ep.busy.text": ("Please wait {wait} and try again.", "请在{wait}后再试。"),
    "ep.other.title": ("Something went wrong", "出了点问题"),
    "ep.other.text": (
        "Nothing was recorded. Please try again in a moment.",
        "未记录任何内容，请稍后再试。",
    ),
    # how to check a product
    "help.title": ("How to check a product", "如何查验商品"),
    "help.1": (
        "Find the QR code on the package marked “Scan to verify” and scan it with your "
        "phone's camera.",
        "找到包装上标有“扫码验真”的二维码，用手机相机扫描。",
    ),
    "help.2": (
        "Read the headline: Genuine (green), Sold (blue), Caution (amber), Not found or "
        "Forged (red).",
        "看页面顶部的结论：正品（绿色）、已售出（蓝色）、请注意（橙色）、未找到或伪造（红色）。",
    ),
    "help.3": (
        "Check that the product, lot and serial number on the page match the item in your hands.",
        "核对页面上的商品名称、批号和序列号与您手中的商品是否一致。",
    ),
    "help.4": (
        "After you buy, scan the code inside the package (“Scan to claim”) to claim the "
        "item as yours, and keep the transfer code you get.",
        "购买后，扫描包装内标有“扫码认领”的二维码认领商品，并妥善保存获得的转让码。",
    ),
    "help.5": (
        "Take care if an item offered as new was already sold or claimed, or if its code "
        "was checked somewhere far away: the code may have been copied.",
        "如果卖家称是全新商品，页面却显示已售出或已被认领，或显示此码曾在很远的地方被查询，"
        "请提高警惕：此码可能被复制了。",
    ),
    "help.6": (
        "Never trust a link or a code someone sent you: scan the label on the package itself.",
        "不要相信别人发来的链接或二维码，请直接扫描商品包装上的标签。",
    ),
}
