"""The console's words in English and Simplified Chinese (one tuple per key, so every
message exists in both). Plain text: the templates escape them. The language is chosen
as on the consumer page (`api.consumer.i18n.choose_language`)."""

from __future__ import annotations

from api.console.i18n_hooks import HOOK_MESSAGES
from api.consumer.i18n import EN, LANGUAGES, ZH, choose_language

__all__ = ["EN", "LANGUAGES", "MESSAGES", "ZH", "choose_language", "words"]

#: key -> (English, Simplified Chinese)
MESSAGES: dict[str, tuple[str, str]] = {
    "console": ("Brand console", "品牌管理控制台"),
    "switch": ("中文", "English"),
    "login.title": ("Sign in", "登录"),
    "username": ("Username", "用户名"),
    "password": ("Password", "密码"),
    "login.button": ("Sign in", "登录"),
    "login.failed": ("Wrong username or password.", "用户名或密码错误。"),
    "login.locked": (
        "Too many wrong passwords: this account is locked for a while.",
        "密码错误次数过多，该账户已被暂时锁定。",
    ),
    "logout": ("Sign out", "退出登录"),
    "nav.overview": ("Overview", "概览"),
    "nav.alerts": ("Alerts", "告警"),
    "nav.units": ("Units", "单品"),
    "signed_in": ("Signed in as {user} ({org}, {role})", "当前用户 {user}（{org}，{role}）"),
    "overview.title": ("Overview", "概览"),
    "open_alerts": ("Open clone alerts", "未关闭的克隆告警"),
    "open_reports": ("Open reports", "未关闭的举报"),
    "scans_today": ("Scans today", "今日扫码次数"),
    "units_minted": ("Units minted", "已赋码单品"),
    "units_recalled": ("Units recalled", "已召回单品"),
    "median_response": ("Median time to first response", "首次响应时间中位数"),
    "seconds": ("{n} s", "{n} 秒"),
    "none": ("none", "无"),
    "alerts.title": ("Alerts", "告警"),
    "filter": ("Filter", "筛选"),
    "all": ("all", "全部"),
    "status": ("Status", "状态"),
    "status.new": ("new", "待受理"),
    "status.acknowledged": ("acknowledged", "已受理"),
    "status.assigned": ("assigned", "已指派"),
    "status.closed": ("closed", "已关闭"),
    "status.confirmed": ("confirmed", "已确认假冒"),
    "source.signal": ("clone signal", "克隆信号"),
    "source.report": ("report", "消费者举报"),
    "kind": ("Kind", "类型"),
    "unit": ("Unit", "单品"),
    "evidence": ("Evidence", "证据"),
    "assignee": ("Assignee", "处理人"),
    "note": ("Note", "备注"),
    "created": ("Raised", "创建时间"),
    "first_response": ("First response", "首次响应"),
    "actions": ("Actions", "操作"),
    "action.acknowledge": ("Acknowledge", "受理"),
    "action.assign": ("Assign", "指派"),
    "action.note": ("Add note", "添加备注"),
    "action.close": ("Close", "关闭"),
    "action.confirm": ("Confirm counterfeit (flag)", "确认假冒并标记"),
    "no_alerts": ("No alerts.", "暂无告警。"),
    "open": ("Open", "查看"),
    "report.title": ("Report {id}", "举报 {id}"),
    "report.text": ("What the buyer wrote", "买家描述"),
    "report.reason": ("Reason", "原因"),
    "report.photo": ("Photo", "照片"),
    "report.no_photo": ("No photo.", "无照片。"),
    "report.flagged": ("Flagged in the log at index {n}.", "已在日志中标记，索引 {n}。"),
    "units.title": ("Units", "单品"),
    "units.search": ("Serial, GTIN, lot or label URL", "序列号、GTIN、批号或标签链接"),
    "search": ("Search", "搜索"),
    "no_units": ("No unit matches.", "没有匹配的单品。"),
    "gtin": ("GTIN", "GTIN"),
    "serial": ("Serial", "序列号"),
    "lot": ("Lot", "批号"),
    "state": ("State", "状态"),
    "recalled": ("recalled", "已召回"),
    "flagged": ("flagged", "已标记"),
    "sold": ("sold", "已售出"),
    "in_circulation": ("in circulation", "流通中"),
    "custodian": ("Custodian", "持有方"),
    "recall_lot.title": ("Recall a lot", "召回整批"),
    "recall_lot.button": ("Recall every unit of the lot", "召回该批次全部单品"),
    "reason": ("Reason", "原因"),
    "unit.title": ("Unit {path}", "单品 {path}"),
    "verdict": ("Verdict shown to shoppers", "消费者看到的结论"),
    "chain": ("Chain", "流转记录"),
    "by": ("By", "签名方"),
    "by_console": ("{actor} (console)", "{actor}（控制台）"),
    "index": ("Index", "索引"),
    "event": ("Event", "事件"),
    "time": ("Time", "时间"),
    "scans": ("Scans", "扫码次数"),
    "flag.button": ("Flag as counterfeit", "标记为假冒"),
    "recall.button": ("Recall this unit", "召回该单品"),
    "done.flag": ("Flagged: log index {n}.", "已标记：日志索引 {n}。"),
    "done.recall": ("Recalled: log index {n}.", "已召回：日志索引 {n}。"),
    "done.recall_lot": ("Recalled {n} units.", "已召回 {n} 件单品。"),
    "error.title": ("Not possible", "无法完成此操作"),
    "error.back": ("Back to the console", "返回控制台"),
    "export": ("Export CSV", "导出 CSV"),
    "nav.partners": ("Partners", "合作伙伴"),
    "nav.audit": ("Audit trail", "操作日志"),
    "partners.title": ("Partner authorizations", "合作伙伴授权"),
    "partner": ("Partner", "合作伙伴"),
    "role": ("Role", "角色"),
    "scope": ("Products", "商品范围"),
    "window": ("Window", "有效期"),
    "auth.active": ("active", "生效中"),
    "auth.pending": ("not yet valid", "尚未生效"),
    "auth.expired": ("expired", "已过期"),
    "auth.revoked": ("revoked", "已撤销"),
    "no_partners": ("No authorizations.", "暂无授权。"),
    "audit.title": ("Audit trail", "操作日志"),
    "user": ("User", "用户"),
    "target": ("Target", "操作对象"),
    # products and print batches (api/console/catalog.py)
    "nav.products": ("Products", "商品"),
    "nav.batches": ("Print batches", "印刷批次"),
    "products.title": ("Products", "商品目录"),
    "products.none": ("No products registered yet.", "尚未登记任何商品。"),
    "name_en": ("Name (English)", "英文名称"),
    "name_zh": ("Name (Chinese)", "中文名称"),
    "picture": ("Picture", "商品图片"),
    "support": ("Support contact", "客服联系方式"),
    "minted": ("Units minted", "已赋码数量"),
    "picture.none": ("none", "无"),
    "picture.bad": (
        "The stored picture is not the one your brand signed: it is not shown to shoppers.",
        "服务器上存储的图片与品牌签名的不一致，不会向消费者展示。",
    ),
    "picture.alt": ("Picture of {name}", "{name} 的商品图片"),
    "upload": ("Upload picture", "上传图片"),
    "upload.file": ("Picture (JPEG, PNG or WebP)", "图片（JPEG、PNG 或 WebP）"),
    "upload.new": ("Picture for a new GTIN", "为新 GTIN 上传图片"),
    "products.signing": (
        "Names, the support contact and the picture are signed by your brand's own key"
        " (product.register), never by the console: the server cannot change what"
        " shoppers see. Upload a picture here, then sign it with the command shown.",
        "商品名称、客服联系方式和图片均由品牌自己的密钥签名（product.register），"
        "控制台无权签名，服务器因此无法篡改消费者看到的内容。请先在此上传图片，"
        "再用下方显示的命令签名。",
    ),
    "uploaded.title": ("Picture stored", "图片已保存"),
    "uploaded.what": (
        "Re-encoded without metadata: {width} × {height} pixels, {bytes} bytes."
        " Its SHA-256, which your brand signs:",
        "已重新编码并去除元数据：{width} × {height} 像素，{bytes} 字节。品牌需签名的 SHA-256 值：",
    ),
    "uploaded.sign": (
        "Shoppers see it once your brand signs it. Run, with your brand's key:",
        "品牌签名后消费者才能看到。请使用品牌密钥运行：",
    ),
    "batches.title": ("Print batches", "印刷批次"),
    "batches.none": ("No units minted yet.", "尚未赋码任何单品。"),
    "batches.what": (
        "A batch is one mint run: the units of one GTIN, lot and expiry commissioned"
        " within 10 minutes of each other.",
        "一个批次即一次赋码：同一 GTIN、批号和有效期、且相邻两次赋码间隔不超过 10 分钟的单品。",
    ),
    "batch": ("Batch", "批次"),
    "expiry": ("Expiry", "有效期"),
    "units": ("Units", "单品数"),
    "serials": ("Serials", "序列号范围"),
    "printed": ("Minted", "赋码时间"),
    "batch.active": ("active", "有效"),
    "batch.voided": ("voided", "已作废"),
    "batch.recalled": ("recalled", "已召回"),
    "batch.recalled_n": ("{n} of {m} recalled", "已召回 {n}/{m}"),
    "reprint": ("Reprint outer labels", "补印外标签"),
    "reprint.list": ("Unit list", "单品清单"),
    "reprint.how": (
        "Outer labels carry your brand's signature, which only your brand's key makes:"
        " download the unit list and run",
        "外标签带有品牌签名，只能由品牌密钥生成：请下载单品清单并运行",
    ),
    "void": ("Void batch", "作废批次"),
    "void.note": ("Why (kept in the audit trail)", "作废原因（记入操作日志）"),
    "void.what": (
        "Voiding recalls every unit of the batch in the log, signed by your console key"
        " with the reason \u201cvoided print batch\u201d; the shopper's page then says so.",
        "作废会在日志中召回该批次的全部单品，由控制台密钥签名，原因为"
        "\u201cvoided print batch\u201d，消费者扫码页面会随之显示。",
    ),
    "done.void": ("Voided: {n} units recalled.", "已作废：召回 {n} 件单品。"),
}

MESSAGES.update(HOOK_MESSAGES)  # the settings page, the partner revoke (api.console.settings)


def words(lang: str) -> dict[str, str]:
    """Every message in ``lang`` (``en`` or ``zh-CN``), by key."""
    column = 1 if lang == ZH else 0
    return {key: pair[column] for key, pair in MESSAGES.items()}
