// What went wrong in a sign-in step: the step's own words for the errors it knows, else the
// generic notice.
import { ErrorNotice } from "../../components/ErrorNotice";

export function LoginAlert({ known, error }: { known: string | null; error: unknown }) {
  if (known) {
    return (
      <div className="error" role="alert">
        {known}
      </div>
    );
  }
  return error ? <ErrorNotice error={error} /> : null;
}
