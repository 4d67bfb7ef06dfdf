// Strings of issue 15 (running Mailroom for real: certificate warnings, mail app set-up), in
// English and Korean. opsEn/opsKo are spread into messages.ts, opsAdminEn/opsAdminKo (the
// console's) into features/admin/adminMessages.ts; each Ko must have every key.
export const opsEn = {
  "settings.mobileconfig": "Set up iPhone, iPad or Mac",
  "settings.mobileconfigHelp":
    "Downloads a profile that sets up Apple Mail with a new app password. Open it on the device, then Settings → Profile Downloaded → Install.",
  "settings.mobileconfigDone": "Profile downloaded. Its app password is in the list below.",
};

export const opsKo: typeof opsEn = {
  "settings.mobileconfig": "iPhone, iPad, Mac 설정",
  "settings.mobileconfigHelp":
    "새 앱 비밀번호로 Apple Mail을 설정하는 프로필을 내려받습니다. 기기에서 연 다음 설정 → 다운로드된 프로필 → 설치를 누르세요.",
  "settings.mobileconfigDone": "프로필을 내려받았습니다. 프로필의 앱 비밀번호는 아래 목록에 있습니다.",
};

export const opsAdminEn = {
  "dash.tlsExpiring":
    "The TLS certificate for {address} expires soon ({detail}). Renew it: the mail listeners pick up the new files without a restart.",
  "dash.tlsExpired": "The TLS certificate for {address} has expired ({detail}). Mail clients will refuse to connect.",
  "dns.srv_missing": "No SRV record (RFC 6186): mail apps cannot find the server from the address alone.",
  "dns.srv_wrong": "The SRV record names another server or port.",
};

export const opsAdminKo: typeof opsAdminEn = {
  "dash.tlsExpiring":
    "{address}의 TLS 인증서가 곧 만료됩니다 ({detail}). 갱신하세요. 메일 리스너는 재시작 없이 새 파일을 읽습니다.",
  "dash.tlsExpired": "{address}의 TLS 인증서가 만료되었습니다 ({detail}). 메일 프로그램이 접속을 거부합니다.",
  "dns.srv_missing": "SRV 레코드(RFC 6186)가 없습니다. 메일 프로그램이 주소만으로 서버를 찾지 못합니다.",
  "dns.srv_wrong": "SRV 레코드가 다른 서버나 포트를 가리킵니다.",
};
