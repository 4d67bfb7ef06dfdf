// Checks the password form makes before asking the server (which runs Django's validators
// and has the last word).
export type PasswordProblem = "currentMissing" | "newMissing" | "tooShort" | "mismatch" | "sameAsCurrent";

/** The server's default (PASSWORD_MIN_LENGTH); the form asks GET settings/password-policy. */
export const MIN_PASSWORD_LENGTH = 8;

export interface PasswordForm {
  current: string;
  next: string;
  confirm: string;
}

/** Problems by field: current, new, confirm. */
export function checkPasswordForm(
  f: PasswordForm,
  minLength: number = MIN_PASSWORD_LENGTH,
): Partial<Record<keyof PasswordForm, PasswordProblem>> {
  const problems: Partial<Record<keyof PasswordForm, PasswordProblem>> = {};
  if (!f.current) problems.current = "currentMissing";
  if (!f.next) problems.next = "newMissing";
  else if ([...f.next].length < minLength) problems.next = "tooShort";
  else if (f.next === f.current) problems.next = "sameAsCurrent";
  if (f.next && f.confirm !== f.next) problems.confirm = "mismatch";
  return problems;
}
