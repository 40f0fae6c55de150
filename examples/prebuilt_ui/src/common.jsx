// What both pages share: the API's origin and paths, and the protected call.
import { useState } from "react";

export const ORIGIN = window.location.origin;
export const APP_INFO = {
    appName: "st-twofactor demo",
    apiDomain: ORIGIN,
    websiteDomain: ORIGIN,
    apiBasePath: "/auth",
};

// Calls the example's protected API (`require_2fa()`) and shows its status.
export function CallApi() {
    const [result, setResult] = useState(null);
    async function call() {
        const response = await fetch("/api/secret");
        const text = await response.text();
        setResult({ status: response.status, text });
    }
    return (
        <div>
            <button id="call-api" onClick={call}>
                Call the protected API
            </button>
            {result && (
                <pre id="api-result" data-status={result.status}>
                    {result.status} {result.text}
                </pre>
            )}
        </div>
    );
}

export const pageStyle = {
    fontFamily: "system-ui, sans-serif",
    maxWidth: 560,
    margin: "24px auto",
    padding: "0 16px",
};
