// The older prebuilt 2FA flow (SuperTokens' legacy 2FA method): the EmailPassword
// prebuilt UI signs in, then the Passwordless prebuilt UI asks for an e-mailed code as
// the second factor; the session's `2fa-completed` claim (st-twofactor's) decides which.
// Served at /legacy/ by the FastAPI example; the auth screens at /legacy/auth.
import { createRoot } from "react-dom/client";
import * as reactRouterDom from "react-router-dom";
import { BrowserRouter, Route, Routes, useNavigate } from "react-router-dom";
import SuperTokens, { SuperTokensWrapper } from "supertokens-auth-react";
import EmailPassword from "supertokens-auth-react/recipe/emailpassword";
import { EmailPasswordPreBuiltUI } from "supertokens-auth-react/recipe/emailpassword/prebuiltui";
import Passwordless from "supertokens-auth-react/recipe/passwordless";
import { PasswordlessPreBuiltUI } from "supertokens-auth-react/recipe/passwordless/prebuiltui";
import Session, {
    BooleanClaim,
    SessionAuth,
    signOut,
    useSessionContext,
} from "supertokens-auth-react/recipe/session";
import { AuthPage, getSuperTokensRoutesForReactRouterDom } from "supertokens-auth-react/ui";

import { APP_INFO, CallApi, pageStyle } from "./common";

const HOME = "/legacy/";
const AUTH = "/legacy/auth";
const SECOND_FACTOR = "/legacy/second-factor";

// The library's claim: false after the password, true once a second factor is done in
// this session. Only the backend sets it; the frontend never refreshes it itself.
const SecondFactorClaim = new BooleanClaim({
    id: "2fa-completed",
    refresh: async () => {},
    onFailureRedirection: () => SECOND_FACTOR,
});

SuperTokens.init({
    appInfo: { ...APP_INFO, websiteBasePath: AUTH },
    getRedirectionURL: async (context) => {
        if (context.action === "SUCCESS") {
            return context.redirectToPath ?? HOME;
        }
        return undefined;
    },
    recipeList: [
        EmailPassword.init(),
        Passwordless.init({ contactMethod: "EMAIL" }),
        Session.init({
            override: {
                functions: (original) => ({
                    ...original,
                    getGlobalClaimValidators: (input) => [
                        ...input.claimValidatorsAddedByOtherRecipes,
                        SecondFactorClaim.validators.isTrue(),
                    ],
                }),
            },
        }),
    ],
});

// The first step: e-mail and password only (passwordless is the second step here).
function FirstFactor() {
    return (
        <AuthPage
            preBuiltUIList={[EmailPasswordPreBuiltUI]}
            factors={["emailpassword"]}
            useSignUpStateFromQueryString={true}
        />
    );
}

// The second step: the Passwordless prebuilt UI inside the first step's session (its
// own claim check off here, or it would redirect to itself).
function SecondFactor() {
    return (
        <SessionAuth overrideGlobalClaimValidators={() => []}>
            <AuthPage
                preBuiltUIList={[PasswordlessPreBuiltUI]}
                factors={["otp-email"]}
                redirectOnSessionExists={false}
            />
        </SessionAuth>
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
        navigate(AUTH);
    }
    return (
        <div style={pageStyle} id="home">
            <h2>Signed in, both factors done (legacy flow)</h2>
            <p>
                User: <span id="user-id">{session.userId}</span>
            </p>
            <CallApi />
            <p>
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
                    <Route path={AUTH} element={<FirstFactor />} />
                    {getSuperTokensRoutesForReactRouterDom(reactRouterDom, [EmailPasswordPreBuiltUI])}
                    <Route path={SECOND_FACTOR} element={<SecondFactor />} />
                    <Route
                        path="/legacy/*"
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
