// Strings of engineer "web" (issue 12, last stop): compose refusals said in the page's own
// words from the API's error codes and numbers; spread into messages.ts (one line each).
export const webEn = {
  "compose.error.daily": "You have sent as many messages as one day allows ({limit}). Try again later.",
  "compose.error.dailyNoCount": "You have sent as many messages as one day allows. Try again later.",
  "compose.error.recipientLimit": "One message can go to at most {limit} recipients. Send it in several parts.",
  "compose.error.recipientLimitNoCount": "This message has too many recipients. Send it in several parts.",
  "compose.error.sendLimit": "A sending limit was reached. Try again later.",
  "compose.error.messageSize":
    "With its attachments the message would be {size}, but at most {limit} can be sent. Remove or shrink attachments.",
  "compose.error.messageSizeNoCount": "The message is too large to send. Remove or shrink attachments.",
  "compose.error.attachmentsNoCount": "The attachments are too large for one message. Remove some.",
};

export const webKo: Record<keyof typeof webEn, string> = {
  "compose.error.daily": "하루에 보낼 수 있는 메일({limit}통)을 모두 보냈습니다. 나중에 다시 보내 주세요.",
  "compose.error.dailyNoCount": "하루에 보낼 수 있는 메일을 모두 보냈습니다. 나중에 다시 보내 주세요.",
  "compose.error.recipientLimit": "메일 한 통은 {limit}명까지 받을 수 있습니다. 여러 번에 나누어 보내 주세요.",
  "compose.error.recipientLimitNoCount": "받는 사람이 너무 많습니다. 여러 번에 나누어 보내 주세요.",
  "compose.error.sendLimit": "발송 한도에 걸렸습니다. 나중에 다시 보내 주세요.",
  "compose.error.messageSize":
    "첨부파일을 포함하면 메일 크기가 {size}인데, 보낼 수 있는 크기는 {limit}까지입니다. 첨부파일을 빼거나 줄여 주세요.",
  "compose.error.messageSizeNoCount": "메일이 너무 커서 보낼 수 없습니다. 첨부파일을 빼거나 줄여 주세요.",
  "compose.error.attachmentsNoCount": "첨부파일이 너무 커서 메일 한 통에 넣을 수 없습니다. 일부를 빼 주세요.",
};
