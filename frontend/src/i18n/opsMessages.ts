// Strings of issue 15 (running Mailroom for real: certificate warnings, mail app set-up), in
// English and Korean; spread into messages.ts. `opsAdminKo` must have every key; the console strings go into adminMessages.ts.
export const opsAdminEn = {
  "dash.tlsExpiring":
    "The TLS certificate for {address} expires soon ({detail}). Renew it: the mail listeners pick up the new files without a restart.",
  "dash.tlsExpired": "The TLS certificate for {address} has expired ({detail}). Mail clients will refuse to connect.",
};

export const opsAdminKo: typeof opsAdminEn = {
  "dash.tlsExpiring":
    "{address}의 TLS 인증서가 곧 만료됩니다 ({detail}). 갱신하세요. 메일 리스너는 재시작 없이 새 파일을 읽습니다.",
  "dash.tlsExpired": "{address}의 TLS 인증서가 만료되었습니다 ({detail}). 메일 프로그램이 접속을 거부합니다.",
};
