// Marks the search's words in a text of a result row (subject, snippet). The words come from
// the nearest HighlightProvider; outside search results there is none and text shows as is.
import { createContext, useContext, useMemo, type ReactNode } from "react";
import { highlightParts, highlightTerms } from "./searchQuery";

const Terms = createContext<readonly string[]>([]);

export function HighlightProvider({ q, children }: { q: string | null; children: ReactNode }) {
  const terms = useMemo(() => (q ? highlightTerms(q) : []), [q]);
  return <Terms.Provider value={terms}>{children}</Terms.Provider>;
}

export function Highlight({ text }: { text: string }) {
  const terms = useContext(Terms);
  if (!terms.length) return <>{text}</>;
  return (
    <>
      {highlightParts(text, terms).map((p, i) =>
        p.hit ? (
          <mark key={i} className="search-hit" data-testid="search-hit">
            {p.text}
          </mark>
        ) : (
          p.text
        ),
      )}
    </>
  );
}
