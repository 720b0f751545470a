"""The console's words for its settings page (webhooks, the console key, the brand
monitor), the partner revoke and a report's "where bought", in English and Simplified
Chinese; merged into `api.console.i18n.MESSAGES`."""

from __future__ import annotations

#: key -> (English, Simplified Chinese)
HOOK_MESSAGES: dict[str, tuple[str, str]] = {
    "nav.settings": ("Settings", "设置"),
    "settings.title": ("Settings", "设置"),
    "hooks.title": ("Webhooks", "Webhook 通知"),
    "hooks.help": (
        "Each new clone alert or buyer's report is sent to every webhook below; failed "
        "deliveries are retried with growing waits (8 tries over about an hour).",
        "每条新的克隆告警或消费者举报都会推送到下列每个 Webhook；投递失败时按递增间隔重试"
        "（约一小时内共 8 次）。",
    ),
    "hooks.none": ("No webhooks yet.", "尚未配置 Webhook。"),
    "hook.kind": ("Kind", "类型"),
    "hook.kind.generic": ("JSON (HMAC-signed)", "JSON（HMAC 签名）"),
    "hook.kind.wecom": ("WeCom group robot", "企业微信群机器人"),
    "hook.kind.dingtalk": ("DingTalk robot", "钉钉机器人"),
    "hook.kind.feishu": ("Feishu robot", "飞书机器人"),
    "hook.url": ("URL", "Webhook 地址"),
    "hook.secret": ("Robot's signing secret", "签名密钥"),
    "hook.secret_help": (
        "JSON: the server makes the secret and shows it once. DingTalk (加签) and Feishu "
        "(签名校验): paste the robot's secret. WeCom: the key in the URL is the secret. "
        "Secrets are stored encrypted and never shown again.",
        "JSON：密钥由服务器生成，仅显示一次。钉钉（加签）和飞书（签名校验）：请粘贴机器人的密钥。"
        "企业微信：地址中的 key 即为密钥。密钥加密保存，之后不再显示。",
    ),
    "hook.ssrf": (
        "Targets in loopback, private, link-local, multicast or reserved address ranges "
        "are refused.",
        "指向回环、私有、链路本地、组播或保留地址段的目标会被拒绝。",
    ),
    "hook.allowed": (
        "The operator allows these networks: {nets}.",
        "运营方已放行以下网段：{nets}。",
    ),
    "hook.add": ("Add a webhook", "添加 Webhook"),
    "hook.add_button": ("Add", "添加"),
    "hook.added_at": ("Added", "添加时间"),
    "hook.added": ("Webhook {n} added.", "已添加 Webhook {n}。"),
    "hook.delete": ("Delete", "删除"),
    "hook.secret_once": (
        "The webhook's signing secret. Copy it now: it is not shown again.",
        "该 Webhook 的签名密钥。请立即复制：之后不再显示。",
    ),
    "done.webhook_deleted": ("Webhook {n} deleted.", "已删除 Webhook {n}。"),
    "deliveries.title": ("Delivery log", "投递记录"),
    "deliveries.none": ("Nothing delivered yet.", "暂无投递记录。"),
    "deliveries.tries": ("Tries", "尝试次数"),
    "deliveries.next": ("Next try / done", "下次重试 / 完成时间"),
    "deliveries.error": ("Last error", "最近一次错误"),
    "delivery.pending": ("pending", "待投递"),
    "delivery.delivered": ("delivered", "已送达"),
    "delivery.failed": ("failed", "投递失败"),
    "delivery.dropped": ("dropped", "已丢弃（Webhook 已删除）"),
    "keys.title": ("The brand's keys in the log", "品牌已登记的密钥"),
    "keys.id": ("Key", "密钥"),
    "keys.scope": ("May sign", "可签名"),
    "keys.full": ("everything (full key)", "全部（完整密钥）"),
    "keys.console": ("console key", "控制台密钥"),
    "monitor.title": ("Brand monitor", "品牌监控"),
    "monitor.help": (
        "Entries touching the brand that its own keys did not sign (provenance monitor "
        "--as BRAND). Read here from this server's copy: run the command from your own "
        "machine too, so a dishonest server is caught.",
        "涉及本品牌、但并非由品牌自有密钥签名的日志条目（provenance monitor --as BRAND）。"
        "此处读取的是本服务器的副本：请同时在自己的机器上运行该命令，以便发现服务器是否作假。",
    ),
    "monitor.read": ("Read {read} of {size} entries.", "共 {size} 条，已读取 {read} 条。"),
    "monitor.clean": ("No findings.", "未发现异常。"),
    "monitor.notices": ("Signed by your scoped keys", "由贵品牌限定范围密钥签署的条目"),
    "monitor.notices.help": (
        "What your brand's scoped keys (such as this console's key) signed within their "
        "scope. Not an alarm: check that you expected each one.",
        "贵品牌限定范围的密钥（例如本控制台的密钥）在其权限范围内签署的条目。"
        "这不是警报，但请确认每一条都在您的预期之内。",
    ),
    "recoveries.title": ("Pending recoveries of your keys", "贵品牌待生效的密钥恢复"),
    "recoveries.help": (
        "The platform operator started a recovery of a key of your brand (key.recover). "
        "The key signs nothing until the time shown. If you did not ask for it, cancel it "
        "now with any current full key of your brand.",
        "平台运营方已为贵品牌发起密钥恢复（key.recover）。在所示时间之前，该密钥不能签署"
        "任何内容。如果这不是贵品牌申请的，请立即用贵品牌任一现有完整权限密钥撤销。",
    ),
    "monitor.code": ("Finding", "问题类型"),
    "monitor.message": ("What", "说明"),
    "revoke.button": ("Revoke", "撤销授权"),
    "revoke.note": (
        "Revoking is signed by the brand's console key, which may end an authorization "
        "but never grant one.",
        "撤销由品牌的控制台密钥签名；该密钥只能撤销授权，不能授予授权。",
    ),
    "revoked_at": ("revoked at index {n} by", "已于日志索引 {n} 撤销，签名方："),
    "done.revoke": ("Authorization revoked: log index {n}.", "授权已撤销：日志索引 {n}。"),
    "report.where": ("Where bought", "购买渠道"),
}
