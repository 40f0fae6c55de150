// SuperTokens' prebuilt UI with its MultiFactorAuth and TOTP recipes, unchanged, on
// st-twofactor's endpoints. Served at /ui/ by the FastAPI example; the auth screens at
// /ui/auth (the API keeps /auth). The home page lists TOTP devices and removes one
// through supertokens-web-js's TOTP recipe.
import { useCallback, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import * as reactRouterDom from "react-router-dom";
import { BrowserRouter, Route, Routes, useNavigate } from "react-router-dom";
import SuperTokens, { SuperTokensWrapper } from "supertokens-auth-react";
import EmailPassword from "supertokens-auth-react/recipe/emailpassword";
import { EmailPasswordPreBuiltUI } from "supertokens-auth-react/recipe/emailpassword/prebuiltui";
import MultiFactorAuth from "supertokens-auth-react/recipe/multifactorauth";
import { MultiFactorAuthPreBuiltUI } from "supertokens-auth-react/recipe/multifactorauth/prebuiltui";
import Passwordless from "supertokens-auth-react/recipe/passwordless";
import { PasswordlessPreBuiltUI } from "supertokens-auth-react/recipe/passwordless/prebuiltui";
import Session, { SessionAuth, signOut, useSessionContext } from "supertokens-auth-react/recipe/session";
import TOTP from "supertokens-auth-react/recipe/totp";
import { TOTPPreBuiltUI } from "supertokens-auth-react/recipe/totp/prebuiltui";
import { getSuperTokensRoutesForReactRouterDom } from "supertokens-auth-react/ui";
import TOTPWebJS from "supertokens-web-js/recipe/totp";

import { APP_INFO, CallApi, pageStyle } from "./common";

const HOME = "/ui/";
const RECOVERY_CODES = "st2fa-recovery-codes";

SuperTokens.init({
    appInfo: { ...APP_INFO, websiteBasePath: "/ui/auth" },
    getRedirectionURL: async (context) => {
        if (context.action === "SUCCESS") {
            return context.redirectToPath ?? HOME;
        }
        return undefined;
    },
    recipeList: [
        EmailPassword.init(),
        Passwordless.init({ contactMethod: "EMAIL" }),
        MultiFactorAuth.init({ firstFactors: ["emailpassword"] }),
        TOTP.init({ postAPIHook: keepRecoveryCodes }),
        Session.init(),
    ],
});

// The library answers the first device's activation with recovery codes, once; the
// prebuilt screens have no place for them, so keep them until the home page shows them.
async function keepRecoveryCodes(context) {
    if (context.action !== "VERIFY_DEVICE") {
        return;
    }
    const body = await context.fetchResponse.clone().json();
    if (body.status === "OK" && Array.isArray(body.recoveryCodes)) {
        sessionStorage.setItem(RECOVERY_CODES, JSON.stringify(body.recoveryCodes));
    }
}

// The recovery codes just made, shown once: write them down.
function RecoveryCodes() {
    const [codes] = useState(() => JSON.parse(sessionStorage.getItem(RECOVERY_CODES) ?? "null"));
    useEffect(() => sessionStorage.removeItem(RECOVERY_CODES), []);
    if (!codes) {
        return null;
    }
    return (
        <div>
            <h3>Your recovery codes (shown once)</h3>
            <ul id="recovery-codes">
                {codes.map((code) => (
                    <li key={code}>{code}</li>
                ))}
            </ul>
        </div>
    );
}

const PREBUILT = [EmailPasswordPreBuiltUI, PasswordlessPreBuiltUI, MultiFactorAuthPreBuiltUI, TOTPPreBuiltUI];

// The user's TOTP devices, from web-js's TOTP recipe (the same instance auth-react set up).
function Devices() {
    const [devices, setDevices] = useState(null);
    const [message, setMessage] = useState("");
    const load = useCallback(async () => {
        const answer = await TOTPWebJS.listDevices();
        setDevices(answer.devices);
    }, []);
    useEffect(() => {
        load().catch((error) => setMessage(`Could not list the devices: ${error}`));
    }, [load]);
    async function remove(deviceName) {
        try {
            const answer = await TOTPWebJS.removeDevice({ deviceName });
            setMessage(answer.didDeviceExist ? `Removed ${deviceName}.` : `${deviceName} was already gone.`);
        } catch (error) {
            setMessage(`Could not remove ${deviceName}: ${error}`);
        }
        await load().catch((error) => setMessage(`Could not list the devices: ${error}`));
    }
    if (devices === null) {
        return <p id="devices-loading">Loading the TOTP devices...</p>;
    }
    return (
        <div>
            <h3>TOTP devices</h3>
            <ul id="devices" data-count={devices.length}>
                {devices.map((device) => (
                    <li key={device.name} data-device={device.name} data-verified={String(device.verified)}>
                        {device.name} {device.verified ? "(verified)" : "(not verified)"}{" "}
                        <button className="remove-device" onClick={() => remove(device.name)}>
                            Remove
                        </button>
                    </li>
                ))}
            </ul>
            <p id="devices-message">{message}</p>
        </div>
    );
}

function Home() {
    const session = useSessionContext();
    const navigate = useNavigate();
    if (session.loading) {
        return null;
    }
    async function logout() {
        await signOut();
        navigate("/ui/auth");
    }
    return (
        <div style={pageStyle} id="home">
            <h2>Signed in, both factors done</h2>
            <p>
                User: <span id="user-id">{session.userId}</span>
            </p>
            <RecoveryCodes />
            <CallApi />
            <Devices />
            <p>
                <button id="add-factor" onClick={() => MultiFactorAuth.redirectToFactorChooser({ navigate })}>
                    Set up another factor
                </button>{" "}
                <button id="sign-out" onClick={logout}>
                    Sign out
                </button>
            </p>
        </div>
    );
}

function App() {
    return (
        <SuperTokensWrapper>
            <BrowserRouter>
                <Routes>
                    {getSuperTokensRoutesForReactRouterDom(reactRouterDom, PREBUILT)}
                    <Route
                        path="/ui/*"
                        element={
                            <SessionAuth>
                                <Home />
                            </SessionAuth>
                        }
                    />
                </Routes>
            </BrowserRouter>
        </SuperTokensWrapper>
    );
}

createRoot(document.getElementById("root")).render(<App />);
