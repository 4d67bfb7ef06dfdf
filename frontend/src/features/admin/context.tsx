// Who is using the console (superadmin or the admin of some domains) and how to move
// between its pages, for every page below AdminView.
import { createContext, useContext, type MouseEvent, type ReactNode } from "react";
import { adminPath, type AdminPage } from "./adminPath";

export interface AdminRole {
  isSuper: boolean;
  /** the domains a domain admin manages (a superadmin manages all) */
  domains: readonly string[];
}

interface Ctx extends AdminRole {
  go: (page: AdminPage) => void;
}

const AdminContext = createContext<Ctx>({ isSuper: false, domains: [], go: () => undefined });

export function AdminProvider({ value, children }: { value: Ctx; children: ReactNode }) {
  return <AdminContext.Provider value={value}>{children}</AdminContext.Provider>;
}

export function useAdmin(): Ctx {
  return useContext(AdminContext);
}

/** A real link (opens in a new tab with a modifier) that moves inside the console. */
export function AdminLink({ to, children, className, current }: { to: AdminPage; children: ReactNode; className?: string; current?: boolean }) {
  const { go } = useAdmin();
  const path = adminPath(to);
  const onClick = (e: MouseEvent): void => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    go(to);
  };
  return (
    <a href={path ? `/admin/${path}` : "/admin"} onClick={onClick} className={className} aria-current={current ? "page" : undefined}>
      {children}
    </a>
  );
}
