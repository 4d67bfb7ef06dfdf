// Strings of the sender marks in the reading pane (issue 13: DMARC, look-alike domains,
// display names carrying another address, the spam filter's state), English and Korean;
// spread into messages.ts. Kept in their own file so parallel work merges cleanly.
export const trustEn = {
  "trust.verified": "Verified sender",
  "trust.verifiedTitle": "The sender's domain {domain} vouches for this message (DMARC pass).",
  "trust.warningTitle": "Be careful with this message",
  "trust.dmarcFail": "This message claims to come from {domain}, but that domain did not authorize it (DMARC failed). It may be forged.",
  "trust.lookalike": "The sender's domain {domain} looks like our domain {ours} but is a different one. Do not trust links or requests in it.",
  "trust.displayName": "The sender's name contains an address that is not the real sender. The real address is {address}.",
  "trust.unscanned": "The spam filter could not check this message.",
};

export const trustKo: Readonly<Record<keyof typeof trustEn, string>> = {
  "trust.verified": "인증된 발신자",
  "trust.verifiedTitle": "발신 도메인 {domain}이(가) 이 메일을 보냈음을 확인했습니다 (DMARC 통과).",
  "trust.warningTitle": "주의가 필요한 메일입니다",
  "trust.dmarcFail": "{domain}에서 보낸 것처럼 보이지만 해당 도메인의 인증을 받지 못했습니다 (DMARC 실패). 위조된 메일일 수 있습니다.",
  "trust.lookalike": "발신 도메인 {domain}은(는) 우리 도메인 {ours}과(와) 비슷해 보이지만 다른 도메인입니다. 메일 속 링크나 요청을 믿지 마세요.",
  "trust.displayName": "보낸 사람 이름에 실제 발신자가 아닌 주소가 들어 있습니다. 실제 주소는 {address}입니다.",
  "trust.unscanned": "스팸 필터가 이 메일을 검사하지 못했습니다.",
};
