// Strings of the password policy's refusals, keyed by the server's codes (field_codes), in
// English and Korean, spread into src/i18n/messages.ts. `leadKo` must have exactly the keys of
// `leadEn`.
export const leadEn = {
  "password.policy.password_too_short": "Use at least {min} characters.",
  "password.policy.password_too_long": "Use at most {max} characters.",
  "password.policy.password_too_common": "This password is too common and easy to guess.",
  "password.policy.password_too_similar": "This password is too close to your address or name.",
  "password.policy.password_entirely_numeric": "Use more than digits only.",
  "password.policy.password_breached": "This password appears in known data breaches; choose another.",
} as const;

export const leadKo: Record<keyof typeof leadEn, string> = {
  "password.policy.password_too_short": "{min}자 이상으로 만드세요.",
  "password.policy.password_too_long": "{max}자 이하로 만드세요.",
  "password.policy.password_too_common": "너무 흔해서 쉽게 추측되는 비밀번호입니다.",
  "password.policy.password_too_similar": "메일 주소나 이름과 너무 비슷한 비밀번호입니다.",
  "password.policy.password_entirely_numeric": "숫자만으로는 만들 수 없습니다.",
  "password.policy.password_breached": "유출된 적이 있는 비밀번호입니다. 다른 비밀번호를 쓰세요.",
};
