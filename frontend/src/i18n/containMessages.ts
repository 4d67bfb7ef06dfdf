// Strings of issue 16 item 5 (containment of a compromised account), in English and Korean.
// containEn/containKo (the mail app's banner) are spread into messages.ts, containAdminEn/
// containAdminKo (the console's held senders page) into features/admin/adminMessages.ts;
// each Ko must have every key.
export const containEn = {
  "hold.title": "Sending from your account is on hold",
  "hold.text":
    "{count} of your messages are kept and will go out once an administrator has checked your account. New mail you send waits too. If you did not send them, change your password now.",
  "hold.burst": "Far more mail than usual was sent in a short time.",
  "hold.bounces": "Much of your mail bounced.",
  "hold.spam": "Other servers refused your mail as spam.",
  "hold.admin": "An administrator held it.",
  "hold.sent": "Sent, but on hold: it goes out once an administrator releases your account.",
};

export const containKo: typeof containEn = {
  "hold.title": "메일 발송이 보류되었습니다",
  "hold.text":
    "보류된 메일 {count}통은 그대로 보관되며, 관리자가 계정을 확인한 뒤 발송됩니다. 새로 보내는 메일도 함께 대기합니다. 직접 보낸 메일이 아니라면 지금 비밀번호를 바꾸세요.",
  "hold.burst": "짧은 시간에 평소보다 훨씬 많은 메일을 보냈습니다.",
  "hold.bounces": "보낸 메일이 많이 반송되었습니다.",
  "hold.spam": "상대 서버가 보낸 메일을 스팸으로 거부했습니다.",
  "hold.admin": "관리자가 발송을 보류했습니다.",
  "hold.sent": "보냈지만 보류 중입니다. 관리자가 계정을 해제하면 발송됩니다.",
};

export const containAdminEn = {
  "dash.paused": "Held senders' messages",
  "nav.held": "Held senders",
  "held.title": "Held senders",
  "held.help":
    "Accounts whose outgoing mail is held because they suddenly sent far more than usual, or their mail bounced or was refused as spam. Their mail stays in the queue, paused. Release it when the account is safe again (its counters start afresh), or delete the held mail.",
  "held.none": "No account is held.",
  "held.account": "Account",
  "held.reason": "Reason",
  "held.since": "Held since",
  "held.messages": "Held mail",
  "held.count": "{messages} messages, {recipients} recipients",
  "held.release": "Release",
  "held.releaseTitle": "Release {address}?",
  "held.releaseConfirm": "Its {messages} held messages go out now. Make sure the account is safe (password changed) first.",
  "held.released": "Released {address}: {count} messages queued.",
  "held.delete": "Delete held mail",
  "held.deleteTitle": "Delete the held mail of {address}?",
  "held.deleteConfirm": "Its {messages} held messages are deleted without a bounce. The account stays held.",
  "held.deleted": "Deleted {count} held messages of {address}.",
  "held.reason.burst": "Sudden burst",
  "held.reason.bounces": "High bounce rate",
  "held.reason.spam": "Refused as spam",
  "held.reason.admin": "Held by an admin",
};

export const containAdminKo: typeof containAdminEn = {
  "dash.paused": "발송 보류된 메일",
  "nav.held": "발송 보류",
  "held.title": "발송 보류 계정",
  "held.help":
    "평소보다 훨씬 많은 메일을 갑자기 보냈거나, 보낸 메일이 많이 반송되거나 스팸으로 거부되어 발송이 보류된 계정입니다. 메일은 대기열에 멈춘 채 보관됩니다. 계정이 안전해지면 해제하세요(발송 집계가 새로 시작됩니다). 보류된 메일을 삭제할 수도 있습니다.",
  "held.none": "보류된 계정이 없습니다.",
  "held.account": "계정",
  "held.reason": "이유",
  "held.since": "보류 시각",
  "held.messages": "보류된 메일",
  "held.count": "메일 {messages}통, 받는 사람 {recipients}명",
  "held.release": "해제",
  "held.releaseTitle": "{address}의 보류를 해제할까요?",
  "held.releaseConfirm": "보류된 메일 {messages}통이 지금 발송됩니다. 먼저 계정이 안전한지(비밀번호 변경) 확인하세요.",
  "held.released": "{address} 해제: 메일 {count}통을 발송 대기열에 넣었습니다.",
  "held.delete": "보류 메일 삭제",
  "held.deleteTitle": "{address}의 보류된 메일을 삭제할까요?",
  "held.deleteConfirm": "보류된 메일 {messages}통을 반송 알림 없이 삭제합니다. 계정은 계속 보류됩니다.",
  "held.deleted": "{address}의 보류된 메일 {count}통을 삭제했습니다.",
  "held.reason.burst": "갑작스러운 대량 발송",
  "held.reason.bounces": "높은 반송률",
  "held.reason.spam": "스팸으로 거부됨",
  "held.reason.admin": "관리자 보류",
};
