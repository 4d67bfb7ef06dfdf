// The messages under one form field (client checks or the server's validators).
export function FieldError({ id, messages }: { id: string; messages: readonly string[] }) {
  if (messages.length === 0) return null;
  return (
    <span className="field-error" id={id} role="alert">
      {messages.join(" ")}
    </span>
  );
}
