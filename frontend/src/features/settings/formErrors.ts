// Server validation errors for one form field, as text (ApiError.fields is {field: [msg…]}).
import { ApiError } from "../../api/client";

export function fieldErrors(error: unknown, field: string): string[] {
  if (!(error instanceof ApiError)) return [];
  const value = error.fields[field];
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return [];
}

/** Whether the error is about named fields only (then the form shows it next to them). */
export function isFieldError(error: unknown, fields: readonly string[]): boolean {
  return (
    error instanceof ApiError &&
    error.status === 400 &&
    Object.keys(error.fields).length > 0 &&
    Object.keys(error.fields).every((f) => fields.includes(f))
  );
}
