import { Fragment, type ReactNode } from "react";
import { Link } from "react-router";

export interface Crumb {
  label: ReactNode;
  to?: string;
}

/** Where the page sits: links up, the current page last (aria-current). */
export function Breadcrumb({ trail }: { trail: Crumb[] }) {
  return (
    <nav className="breadcrumb" aria-label="Breadcrumb">
      {trail.map((crumb, index) => (
        <Fragment key={index}>
          {index > 0 ? <span aria-hidden="true"> / </span> : null}
          {index === trail.length - 1 ? (
            <span aria-current="page">{crumb.label}</span>
          ) : crumb.to ? (
            <Link to={crumb.to}>{crumb.label}</Link>
          ) : (
            <span>{crumb.label}</span>
          )}
        </Fragment>
      ))}
    </nav>
  );
}
