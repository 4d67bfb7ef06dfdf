// The current Route from window.location, kept in step with pushState and the back button.
// `navigate` is also offered through NavigateContext so deep components (and other helpers'
// screens) can move between routes without prop drilling.
import { createContext, useCallback, useContext, useEffect, useState } from "react";
import { parseRoute, routeHref, type Route } from "./route";

export type Navigate = (next: Route, replace?: boolean) => void;

function currentRoute(): Route {
  return parseRoute(window.location.pathname, window.location.search);
}

export function useRoute(): [Route, Navigate] {
  const [route, setRoute] = useState<Route>(currentRoute);
  useEffect(() => {
    const onPop = (): void => setRoute(currentRoute());
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  const navigate = useCallback<Navigate>((next, replace = false) => {
    const href = routeHref(next);
    if (href !== window.location.pathname + window.location.search) {
      if (replace) window.history.replaceState(null, "", href);
      else window.history.pushState(null, "", href);
    }
    setRoute(next);
  }, []);
  return [route, navigate];
}

export const NavigateContext = createContext<Navigate>(() => undefined);

export function useNavigate(): Navigate {
  return useContext(NavigateContext);
}
