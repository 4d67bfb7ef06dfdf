// Server validation errors for one form field, as text (ApiError.fields is {field: [msg…]}).
import { ApiError } from "../../api/client";

function stringsAt(tree: Readonly<Record<string, unknown>>, field: string): string[] {
  const value = tree[field];
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return [];
}

export function fieldErrors(error: unknown, field: string): string[] {
  return error instanceof ApiError ? stringsAt(error.fields, field) : [];
}

/** The stable codes of a field's server errors (`password_too_common`…), same order as the text. */
export function fieldErrorCodes(error: unknown, field: string): string[] {
  return error instanceof ApiError ? stringsAt(error.fieldCodes, field) : [];
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
