// The st-twofactor demo page: plain JavaScript against the SuperTokens and 2FA HTTP APIs.
// Sessions live in HttpOnly cookies set by the SDK (`st-auth-mode: cookie`); every request
// carries `rid: anti-csrf`, the SDK's anti-CSRF custom header. An expired access token
// answers 401 "try refresh token": the page calls /auth/session/refresh once and retries.
// Security keys and passkeys use navigator.credentials; the server speaks base64url JSON,
// the browser ArrayBuffers, and the helpers below convert between them.
"use strict";

const SCREENS = ["loading", "signin", "enrol", "recovery-codes", "second-factor", "email-code", "home"];
const EMAIL_KEY = "st2fa-demo-email";
const $ = (id) => document.getElementById(id);

let emailDevice = null; // {deviceId, preAuthSessionId} of the last e-mailed code
let overview = null; // the last answer of GET /auth/2fa: what the page may offer
let overviewAt = 0; // when it came (Date.now())
let graceOffered = false; // the set-up was offered once in this grace session ("set up later")

const FACTOR_NAMES = {
  totp: "Authenticator codes",
  "otp-email": "E-mailed codes",
  "otp-phone": "Text-message codes",
  "recovery-code": "Recovery codes",
  webauthn: "Security keys",
};

// -- talking to the server --

async function send(method, path, body) {
  const options = {
    method,
    credentials: "same-origin",
    headers: { rid: "anti-csrf", "st-auth-mode": "cookie" },
  };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  return { status: response.status, data };
}

let refreshing = null; // one refresh at a time, shared by concurrent calls

async function refreshSession() {
  refreshing ??= send("POST", "/auth/session/refresh").finally(() => (refreshing = null));
  return (await refreshing).status === 200;
}

/** Send; on 401 "try refresh token", refresh the session once and send again. */
async function withRefresh(method, path, body) {
  const answer = await send(method, path, body);
  if (answer.status !== 401 || answer.data.message !== "try refresh token") return answer;
  return (await refreshSession()) ? send(method, path, body) : answer;
}

/** Like withRefresh, for signed-in screens: a session that is gone leads to sign-in. */
async function api(method, path, body) {
  const answer = await withRefresh(method, path, body);
  if (answer.status === 401) {
    show("signin");
    say("Your session has ended: please sign in again.", "error");
    throw new Error("signed out");
  }
  return answer;
}

// -- showing things --

function show(screen) {
  for (const name of SCREENS) $(`screen-${name}`).hidden = name !== screen;
  document.body.dataset.screen = screen;
  const email = sessionStorage.getItem(EMAIL_KEY) || "";
  for (const el of document.querySelectorAll(".user-email")) el.textContent = email;
}

function say(text, kind = "info") {
  const box = $("message");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = !text;
}

function waitText(ms) {
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 60) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}

/** Say why a code was not accepted: wrong (attempts left), locked (the wait), or other. */
function sayCodeProblem({ status, data }) {
  if (status === 400) return say(data.message || "That does not look like a code.", "error");
  switch (data.status) {
    case "INVALID_CODE_ERROR": // the wrong code that locks answers LIMIT_REACHED_ERROR
      if (data.hint === "CHECK_DEVICE_CLOCK") {
        // the code is one the app would show a few minutes earlier or later
        return say(
          "Wrong code: your device's clock seems to be off. Set its date and time to " +
            `automatic and try the new code. ${data.attemptsLeft} attempt(s) left.`,
          "error",
        );
      }
      return say(`Wrong code. ${data.attemptsLeft} attempt(s) left.`, "error");
    case "INCORRECT_USER_INPUT_CODE_ERROR": {
      const left = data.maximumCodeInputAttempts - data.failedCodeInputAttemptCount;
      return say(`Wrong code. ${left} attempt(s) left.`, "error");
    }
    case "LIMIT_REACHED_ERROR":
      return say(`Too many wrong codes: locked. Try again in ${waitText(data.retryAfterMs)}.`, "error");
    case "EXPIRED_USER_INPUT_CODE_ERROR":
      return say("That code has expired: send a new one.", "error");
    case "RESTART_FLOW_ERROR":
      return say("That code can no longer be used: send a new one.", "error");
    case "GENERAL_ERROR": // e-mail codes: locked or too many sent (with retryAfterMs), or not allowed
      return say(data.message, "error");
    default:
      return say(`Unexpected answer: ${data.status || data.message || status}`, "error");
  }
}

// -- the flow --

/**
 * Show the screen that fits the session's 2FA state, from GET /auth/2fa alone: `next`
 * (what can complete 2FA now), `enrollable` (what may be set up now), `contacts` (where
 * a code would go) and `locked` (what is refused, for how long).
 */
async function route() {
  const { status, data } = await withRefresh("GET", "/auth/2fa");
  if (status === 401) return show("signin");
  overview = data;
  overviewAt = Date.now();
  // In an enrolment grace period (completed without a factor): offer the set-up once
  // per sign-in, with "set up later".
  if (data.grace && data.factors.length === 0 && !graceOffered && data.enrollable.includes("totp")) {
    graceOffered = true;
    return startEnrolment();
  }
  if (data.completed) return goHome(data);
  // A new user sets up an authenticator app first (the strongest factor offered).
  if (data.factors.length === 0 && data.enrollable.includes("totp")) return startEnrolment();
  $("totp-form").hidden = !data.next.includes("totp");
  $("email-factor").hidden = !data.next.includes("otp-email");
  $("webauthn-factor").hidden = !data.next.includes("webauthn");
  $("recovery-form").hidden = !data.next.includes("recovery-code");
  sayLocked(data);
  show("second-factor");
}

/** Say which factors are locked and for how long, or that none can be used now. */
function sayLocked(data) {
  const locked = Object.entries(data.locked || {}).map(
    ([factor, ms]) => `${FACTOR_NAMES[factor] || factor} are locked: try again in ${waitText(ms)}.`,
  );
  if (data.next.length === 0 && locked.length === 0) {
    return say("No second factor can be used now: ask an administrator to reset yours.", "error");
  }
  if (locked.length > 0) say(locked.join(" "), "error");
}

/** Whole days until `ms` (a time in ms since the epoch, as every time of the API). */
function daysLeft(ms) {
  return Math.max(0, Math.ceil((ms - Date.now()) / 86400000));
}

function laterText(grace) {
  const days = daysLeft(grace.until);
  return `Set up later (${days} day${days === 1 ? "" : "s"} left)`;
}

function goHome(data) {
  const codesLeft = data.recoveryCodesLeft; // null: no set (no factor yet)
  $("recovery-codes-left").textContent =
    codesLeft === null ? "" : `Recovery codes left: ${codesLeft}.`;
  $("home-factors").hidden = data.factors.length === 0;
  $("grace-notice").hidden = !data.grace;
  if (data.grace) {
    const days = daysLeft(data.grace.until);
    $("grace-text").textContent =
      `Two-factor authentication is not set up yet: you can put it off ${days} more ` +
      `day${days === 1 ? "" : "s"}, then it is required.`;
  }
  $("recovery-low").hidden = codesLeft === null || codesLeft > 3;
  $("recovery-low-text").textContent =
    `Only ${codesLeft} recovery code${codesLeft === 1 ? "" : "s"} left: make a new set.`;
  $("email-enrol").hidden = !data.enrollable.includes("otp-email");
  showSecurityKeys(data);
  $("api-result").hidden = true;
  show("home");
  return showRememberedDevices();
}

// -- remembered devices --

/** The home screen's list of remembered devices, each with Forget (hidden when the app
 * does not remember devices: the route answers 404). */
async function showRememberedDevices() {
  const { status, data } = await api("GET", "/auth/2fa/remembered-devices");
  $("remembered-devices").hidden = status !== 200;
  if (status !== 200) return;
  const when = (ms) => new Date(ms).toLocaleString();
  $("remembered-list").replaceChildren(
    ...data.devices.map((device) => {
      const item = document.createElement("li");
      item.textContent = `${device.name}: remembered ${when(device.createdAt)}, last used ${when(device.lastUsedAt)} `;
      const forget = document.createElement("button");
      forget.type = "button";
      forget.className = "secondary remembered-forget";
      forget.textContent = "Forget";
      forget.addEventListener("click", guarded(() => forgetDevice(device)));
      item.append(forget);
      return item;
    }),
  );
  if (data.devices.length === 0) {
    const none = document.createElement("li");
    none.textContent = "None.";
    $("remembered-list").append(none);
  }
}

async function forgetDevice(device) {
  const answer = await api("POST", "/auth/2fa/remembered-devices/remove", { id: device.id });
  if (answer.status !== 200) return say(`Could not forget the device: ${answer.data.message || answer.status}`, "error");
  say(`"${device.name}" will be asked for a second step at its next sign-in.`, "info");
  await showRememberedDevices();
}

async function startEnrolment() {
  const { data } = await api("POST", "/auth/2fa/totp/device", {});
  if (data.status !== "OK") {
    say(`Could not start the set-up: ${data.status || data.message}`, "error");
    return show("signin");
  }
  $("qr-code").src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(data.qrCodeSvg);
  $("totp-secret").textContent = data.secret;
  $("enrol-code").value = "";
  $("enrol-webauthn").hidden = !overview?.enrollable?.includes("webauthn");
  const grace = overview?.grace;
  $("enrol-later-button").hidden = !grace;
  if (grace) $("enrol-later-button").textContent = laterText(grace);
  show("enrol");
}

async function firstFactor(path) {
  const email = $("email").value.trim();
  const formFields = [
    { id: "email", value: email },
    { id: "password", value: $("password").value },
  ];
  const { data } = await send("POST", path, { formFields });
  if (data.status === "OK") {
    sessionStorage.setItem(EMAIL_KEY, email);
    $("password").value = "";
    say("");
    return route();
  }
  if (data.status === "WRONG_CREDENTIALS_ERROR") return say("Wrong e-mail or password.", "error");
  if (data.status === "EMAIL_ALREADY_EXISTS_ERROR") {
    return say("That e-mail already has an account: sign in instead.", "error");
  }
  if (data.status === "FIELD_ERROR") {
    return say(data.formFields.map((f) => `${f.id}: ${f.error}`).join("; "), "error");
  }
  say(`Sign-in failed: ${data.status || data.message}`, "error");
}

async function verifyEnrolment(event) {
  event.preventDefault();
  const code = $("enrol-code").value.trim();
  const answer = await api("POST", "/auth/2fa/totp/device/verify", { code });
  if (answer.data.status !== "OK") return sayCodeProblem(answer);
  say("Two-factor authentication is on.", "ok");
  return showNewRecoveryCodes(answer.data.recoveryCodes || []);
}

/** After a first factor is added: show its new recovery codes, once; or move on. */
function showNewRecoveryCodes(codes) {
  if (codes.length === 0) return route();
  $("recovery-codes").replaceChildren(
    ...codes.map((code) => {
      const item = document.createElement("li");
      item.textContent = code;
      return item;
    }),
  );
  show("recovery-codes");
}

async function finishRecoveryCodes() {
  $("recovery-codes").replaceChildren(); // shown once: gone from the page too
  say("");
  await route();
}

async function verifySecondFactor(event, path, input) {
  event.preventDefault();
  const answer = await api("POST", path, {
    code: $(input).value.trim(),
    rememberDevice: $("remember-device").checked,
  });
  if (answer.data.status !== "OK") return sayCodeProblem(answer);
  $(input).value = "";
  say("Second factor verified.", "ok");
  await route();
}

/**
 * E-mail a code to the address GET /auth/2fa names (the pinned one, or the account's;
 * the first use also turns e-mail codes on).
 */
async function sendEmailCode() {
  const email = overview?.contacts?.["otp-email"]?.contact;
  if (!email) return say("E-mailed codes cannot be used now.", "error");
  // shouldTryLinkingWithSessionUser: a second factor of this session, also in an app
  // where passwordless is a sign-in method (without it that is a sign-in code).
  const answer = await api("POST", "/auth/signinup/code", {
    email,
    shouldTryLinkingWithSessionUser: true,
  });
  if (answer.data.status !== "OK") {
    emailDevice = null;
    return sayCodeProblem(answer);
  }
  emailDevice = { deviceId: answer.data.deviceId, preAuthSessionId: answer.data.preAuthSessionId };
  $("email-sent").textContent = `We sent a code to ${email}.`;
  $("email-code").value = "";
  say("");
  show("email-code");
}

async function verifyEmailCode(event) {
  event.preventDefault();
  const answer = await api("POST", "/auth/signinup/code/consume", {
    ...emailDevice,
    userInputCode: $("email-code").value.trim(),
    shouldTryLinkingWithSessionUser: true,
    rememberDevice: $("remember-device").checked,
  });
  if (answer.data.status !== "OK") return sayCodeProblem(answer);
  emailDevice = null;
  say("E-mail code verified.", "ok");
  await route();
}

// -- security keys and passkeys (WebAuthn) --

function fromBase64url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
}

function toBase64url(buffer) {
  if (!buffer) return null;
  let binary = "";
  for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The server's options with their base64url fields as the ArrayBuffers the browser wants. */
function creationOptions(options) {
  return {
    ...options,
    challenge: fromBase64url(options.challenge),
    user: { ...options.user, id: fromBase64url(options.user.id) },
    excludeCredentials: (options.excludeCredentials || []).map((c) => ({ ...c, id: fromBase64url(c.id) })),
  };
}

function requestOptions(options) {
  return {
    ...options,
    challenge: fromBase64url(options.challenge),
    allowCredentials: (options.allowCredentials || []).map((c) => ({ ...c, id: fromBase64url(c.id) })),
  };
}

/** A PublicKeyCredential as the JSON the server reads (base64url bytes). */
function credentialJson(credential) {
  const r = credential.response;
  const response = { clientDataJSON: toBase64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toBase64url(r.attestationObject);
    response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    response.authenticatorData = toBase64url(r.authenticatorData);
    response.signature = toBase64url(r.signature);
    response.userHandle = toBase64url(r.userHandle);
  }
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response,
    authenticatorAttachment: credential.authenticatorAttachment || null,
    clientExtensionResults: credential.getClientExtensionResults(),
  };
}

/** Run a navigator.credentials call; null (and a message) when the browser refused. */
async function askBrowser(call) {
  if (!window.PublicKeyCredential || !window.isSecureContext) {
    say("Security keys need https, or this page opened at http://localhost:PORT.", "error");
    return null;
  }
  try {
    return await call();
  } catch (error) {
    console.warn("navigator.credentials:", error.name, error.message);
    const why = error.name === "InvalidStateError" ? "that key is already added" : "cancelled or timed out";
    say(`The security key did not answer (${why}).`, "error");
    return null;
  }
}

function sayKeyProblem({ status, data }) {
  if (status === 403) return say("Confirm it is you with a second factor first (sign in again).", "error");
  switch (data.status) {
    case "INVALID_CREDENTIAL_ERROR":
      return say(`The security key was not accepted. ${data.attemptsLeft} attempt(s) left.`, "error");
    case "DEVICE_ALREADY_EXISTS_ERROR":
      return say("You already have a key with that name: choose another name.", "error");
    case "TOO_MANY_DEVICES_ERROR":
      return say("You have as many keys as allowed: remove one first.", "error");
    default:
      return sayCodeProblem({ status, data });
  }
}

async function addSecurityKey(name) {
  const query = "?deviceName=" + encodeURIComponent(name);
  const asked = await api("GET", "/auth/2fa/webauthn/register/options" + query);
  if (asked.data.status !== "OK") return sayKeyProblem(asked);
  const credential = await askBrowser(() =>
    navigator.credentials.create({ publicKey: creationOptions(asked.data.options) }),
  );
  if (!credential) return;
  const answer = await api("POST", "/auth/2fa/webauthn/register/verify", {
    deviceName: name,
    credential: credentialJson(credential),
  });
  if (answer.data.status !== "OK") return sayKeyProblem(answer);
  say(`Security key "${name}" added.`, "ok");
  return showNewRecoveryCodes(answer.data.recoveryCodes || []);
}

async function useSecurityKey() {
  // GET /auth/2fa brought the options (a challenge valid 5 minutes, usable once): use
  // them while they are fresh, else ask for new ones.
  let options = overview?.webauthnOptions;
  if (overview) overview.webauthnOptions = undefined;
  if (!options || Date.now() - overviewAt > 4 * 60 * 1000) {
    const asked = await api("GET", "/auth/2fa/webauthn/authenticate/options");
    if (asked.data.status !== "OK") return sayKeyProblem(asked);
    options = asked.data.options;
  }
  const credential = await askBrowser(() =>
    navigator.credentials.get({ publicKey: requestOptions(options) }),
  );
  if (!credential) return;
  const answer = await api("POST", "/auth/2fa/webauthn/authenticate/verify", {
    credential: credentialJson(credential),
  });
  if (answer.data.status !== "OK") return sayKeyProblem(answer);
  say("Security key verified.", "ok");
  await route();
}

async function removeSecurityKey(name) {
  const answer = await api("POST", "/auth/2fa/webauthn/device/remove", { deviceName: name });
  if (answer.status !== 200) return sayKeyProblem(answer);
  say(`Security key "${name}" removed.`, "info");
  await route();
}

/** The home screen's list of keys (with Remove) and, when allowed now, the add form. */
function showSecurityKeys(data) {
  const keys = data.securityKeys || [];
  $("webauthn-keys").hidden = !data.enabled.includes("webauthn");
  $("webauthn-add-form").hidden = !data.enrollable.includes("webauthn");
  $("webauthn-list").replaceChildren(
    ...keys.map((key) => {
      const item = document.createElement("li");
      item.textContent = key.name;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "secondary webauthn-remove";
      remove.textContent = "Remove";
      remove.addEventListener("click", guarded(() => removeSecurityKey(key.name)));
      item.append(remove);
      return item;
    }),
  );
}

async function regenerateRecoveryCodes() {
  const answer = await api("POST", "/auth/2fa/recovery-codes", {});
  if (answer.status === 403) {
    // new codes need a second factor presented a few minutes ago at most
    return say("To make new recovery codes, sign in again with your second factor first.", "error");
  }
  if (answer.data.status !== "OK") return say(answer.data.message || answer.data.status, "error");
  say("New recovery codes: the old ones no longer work.", "ok");
  return showNewRecoveryCodes(answer.data.recoveryCodes);
}

async function callApi() {
  const result = $("api-result");
  result.hidden = true;
  delete result.dataset.status;
  const { status, data } = await api("GET", "/api/secret");
  result.hidden = false;
  result.dataset.status = String(status);
  result.textContent =
    status === 200
      ? `${data.message}\nuser id: ${data.userId}`
      : `Refused (${status}): complete the second factor first.`;
}

async function signOut() {
  await send("POST", "/auth/signout");
  sessionStorage.removeItem(EMAIL_KEY);
  emailDevice = null;
  overview = null;
  graceOffered = false;
  say("You are signed out.", "info");
  show("signin");
}

// -- wiring --

function guarded(handler) {
  return (event) =>
    handler(event).catch((error) => {
      if (error.message !== "signed out") say(`Something went wrong: ${error.message}`, "error");
    });
}

function back() {
  say("");
  return route();
}

document.addEventListener("DOMContentLoaded", () => {
  const on = (id, type, handler) => $(id).addEventListener(type, guarded(handler));
  on("signin-form", "submit", async (e) => {
    e.preventDefault();
    await firstFactor("/auth/signin");
  });
  on("signup-button", "click", async () => {
    if ($("signin-form").reportValidity()) await firstFactor("/auth/signup");
  });
  on("enrol-form", "submit", verifyEnrolment);
  on("recovery-codes-done", "click", finishRecoveryCodes);
  on("totp-form", "submit", (e) => verifySecondFactor(e, "/auth/2fa/totp/verify", "totp-code"));
  on("recovery-form", "submit", (e) =>
    verifySecondFactor(e, "/auth/2fa/recovery-code/verify", "recovery-code"),
  );
  on("email-send-button", "click", sendEmailCode);
  on("email-enrol-button", "click", sendEmailCode);
  on("email-resend-button", "click", sendEmailCode);
  on("email-form", "submit", verifyEmailCode);
  on("webauthn-use-button", "click", useSecurityKey);
  on("enrol-webauthn-button", "click", () => addSecurityKey("My security key"));
  on("webauthn-add-form", "submit", async (e) => {
    e.preventDefault();
    await addSecurityKey($("webauthn-name").value.trim());
  });
  on("email-back-button", "click", back);
  on("call-api-button", "click", callApi);
  on("enrol-later-button", "click", async () => goHome(overview));
  on("grace-setup-button", "click", startEnrolment);
  on("regenerate-button", "click", regenerateRecoveryCodes);
  for (const button of document.querySelectorAll(".signout-button")) {
    button.addEventListener("click", guarded(signOut));
  }
  guarded(route)();
});
