import { Link, useLocation } from "react-router";

import { Notice } from "../components/Notice";
import { useDocumentTitle } from "../components/useDocumentTitle";

export function NotFoundPage() {
  const location = useLocation();
  useDocumentTitle("Not found");
  return (
    <div className="page">
      <h1>Not found</h1>
      <Notice kind="error">
        Nothing at {location.pathname}. <Link to="/">See the overview</Link> or <Link to="/models">all models</Link>.
      </Notice>
    </div>
  );
}
