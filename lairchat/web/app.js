// lairchat in the browser (docs/WEB.md): REST for login and registration and for what
// the protocol lacks (unread counts, members, kicks, every joined room), the real-time
// protocol over /ws (docs/protocols/TCP.md, WEBSOCKET.md) for the rest.
//
// Rules this file keeps:
// - Text from the server (names, room names, descriptions, messages) reaches the page
//   only as DOM text nodes (appendText below), never as markup: no innerHTML anywhere.
//   Control, bidi and invisible characters are shown as visible marks (UNSAFE).
// - The token lives in sessionStorage (this tab only, gone when it closes).
// - Everything is loaded from the server that served the page: no other origin.

const TOKEN_KEY = "lairchat.token";
const OPEN_KEY = "lairchat.open";
/** The one thing kept in localStorage (for every tab, across restarts): desktop
 * notifications turned on, "on", or not there. Nothing of an account is kept there. */
const NOTIFY_KEY = "lairchat.notify";
/** A conversation gets a desktop notification at most this often; what arrives meanwhile
 * is one notification ("3 new mentions in …") when the time is up. */
const NOTIFY_EVERY_MS = 5_000;
/** How much of a message a notification shows. */
const NOTIFIED_CHARS = 200;
const PING_EVERY_MS = 30_000;
/** The hello feature asking for lairchat's own events (`room_created`, `invitation_revoked`,
 * `messages_read`, ...: handleEvent has them all). */
const LAIRCHAT_EVENTS = "lairchat-events";
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;
const TYPING_EVERY_MS = 3_000;
const TYPING_SHOWN_MS = 5_000;
const ERROR_SHOWN_MS = 20_000;
const PAGE = 50;
/** How far back a send the server could not confirm is looked for (`settleUnconfirmed`). */
const UNCONFIRMED_PAGE = 100;
const NOT_STORED = "The server lost that message: it was not sent. Send it again.";
const MAYBE_STORED =
  "The server may have stored that message: look in the conversation's history before sending it again.";
/** Messages held per conversation (in memory and on the page): a busy room left open
 * for hours forgets its oldest ones, which "Load older messages" fetches again. */
const KEEP = 500;
/** A page of users or rooms (the server's largest); *More* asks for the next one. */
const LIST_LIMIT = 100;
const SEARCH_DELAY_MS = 250;
/** Characters of a search result's line kept before its match (the terminal client's
 * CONTEXT, lairchat/client/search.py). */
const SEARCH_CONTEXT = 24;
/** Characters of a result's line kept from its match on (the terminal client's ROW). */
const SEARCH_ROW = 200;
/** What a server without message search (the original Lair Chat, an older lairchat:
 * a 404 or 405 without the API's error envelope) is said to have. */
const NO_SEARCH = "This server has no message search.";
/** What a server without account deletion (the original, an older lairchat) is said to
 * have. */
const NO_DELETION = "This server cannot delete accounts.";
/** What a server without reactions (the original, an older lairchat) is said to have. */
const NO_REACTIONS = "This server has no reactions.";
/** An emoji a URL cannot carry as a path segment: `.` and `..` are dot segments, which
 * the browser resolves even percent-encoded (`…/reactions/..` leaves as
 * `/messages/{id}/`). The server takes both; they go over the real-time connection. */
const DOT_SEGMENT = /^\.\.?$/;
/** What a server without pinned messages (the original, an older lairchat) is said to
 * have. */
const NO_PINS = "This server cannot pin messages.";
/** A reaction's emoji: at most this many UTF-8 bytes (docs/protocols/HTTP.md, the
 * server's rule). */
const REACTION_MAX_BYTES = 32;
/** Whether a refusal means the route does not exist on this server (lairchat's
 * extensions: message search, account deletion, reactions): a 404 or 405 without the
 * API's error envelope, which `rest` names `http_<status>`. A 404 of the API
 * (`user_not_found`) has its own code and is shown as it is. The terminal client's
 * rule: net/errors.py. */
const routeMissing = (error) => /^http_40[45]$/.test(error.code ?? "");
/** Whether a refusal of one of lairchat's later routes (reactions, pins, the data
 * export, the audit log) means the server has none: the original's bare 404 or 405
 * (routeMissing), or an older lairchat's `not_found`, its answer for a path it does not
 * serve. A server with the route names what it lacks instead (`message_not_found`,
 * `room_not_found`) or refuses with 401, 403 or 429. */
const lacksRoute = (error) => routeMissing(error) || error.code === "not_found";
/** New messages are read out (to screen readers) at most this often; those arriving
 * meanwhile are summed up in one announcement. */
const ANNOUNCE_EVERY_MS = 2_000;
/** How much of a message is read out when it arrives (the rest is in the list). */
const ANNOUNCED_CHARS = 300;
/** How much of a message pinned or unpinned by someone else is read out (enough to
 * know which; the panel has it whole). */
const ANNOUNCED_PIN_CHARS = 100;
/** The side lists are redrawn at most this often while events pour in. */
const LISTS_EVERY_MS = 100;
/** The protocol's bounds, in UTF-8 bytes: a message's content (TCP.md), and a frame
 * (WEBSOCKET.md: a larger one makes the server close the connection, code 1009). */
const CONTENT_MAX_BYTES = 4096;
const FRAME_MAX_BYTES = 1_048_576;
const utf8Length = (text) => new TextEncoder().encode(text).length;

const $ = (id) => document.getElementById(id);
/** The node is laid out (neither it nor a parent is `display: none`, `hidden`). Not
 * `checkVisibility()`, which Safari has only since 17.4. */
const displayed = (node) => node.getClientRects().length > 0;

// -- safe text -------------------------------------------------------------------------

// C0 and C1 controls (but tab and newline), DEL, the bidi marks, embeddings, overrides
// and isolates (U+202E can make "exe.txt" read as "txt.exe"), and characters that are
// invisible or change the layout: zero-width spaces and joiners but ZWJ/ZWNJ, fillers
// that make a blank name, line separators, tag characters (docs/SECURITY.md; the list
// is tests/fixtures/hidden_characters.json). The first alternative is an emoji tag
// sequence (a flag such as England's: U+1F3F4, tags, U+E007F): matched to be kept.
const FLAG = String.raw`\u{1F3F4}[\u{E0020}-\u{E007E}]+\u{E007F}`;
const HIDDEN =
  String.raw`\u0000-\u0008\u000B-\u001F\u007F-\u009F\u00AD\u034F\u061C\u115F\u1160` +
  String.raw`\u17B4\u17B5\u180E\u200B\u200E\u200F\u2028-\u202E\u2060-\u206F\u3164\uFEFF` +
  String.raw`\uFFA0\uFFF9-\uFFFB\u{1D173}-\u{1D17A}\u{E0000}-\u{E007F}`;
const UNSAFE = new RegExp(`${FLAG}|[${HIDDEN}]`, "gu");
/** A subdivision flag, whose tag characters a reaction may hold. */
const FLAGS = new RegExp(FLAG, "gu");
/** What a reaction's emoji cannot hold outside a flag (the server's `check_emoji`,
 * lairchat/domain/reactions.py): whitespace, separators, control and format characters
 * but the zero-width joiner of 👩‍💻 (the variation selector of ❤️ is none), lone
 * surrogates, what is hidden in names (HIDDEN), and `/`. */
const REACTION_BANNED = new RegExp(
  String.raw`(?!\u200D)[\s\p{Z}\p{Cc}\p{Cf}\p{Cs}/${HIDDEN}]`,
  "u",
);

function mark(char) {
  const code = char.codePointAt(0);
  if (code < 0x20) return String.fromCodePoint(0x2400 + code); // ␀ … ␟
  if (code === 0x7f) return "\u2421"; // ␡
  return `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** `text` in pieces, `[text, false]` as it is and `[mark, true]` for each unsafe
 * character: one rule for what goes on the page and what goes in a notification. */
function* safePieces(text) {
  const s = String(text ?? "").replace(/\r\n/g, "\n");
  let last = 0;
  for (const found of s.matchAll(UNSAFE)) {
    if (found[0].codePointAt(0) === 0x1f3f4) continue; // a flag (emoji tag sequence): kept
    if (found.index > last) yield [s.slice(last, found.index), false];
    yield [mark(found[0]), true];
    last = found.index + found[0].length;
  }
  if (last < s.length) yield [s.slice(last), false];
}

/** Append `text` to `parent` as text nodes, unsafe characters as visible marks. */
function appendText(parent, text) {
  for (const [piece, marked] of safePieces(text)) {
    if (!marked) {
      parent.append(piece);
      continue;
    }
    const shown = document.createElement("span");
    shown.className = "escaped";
    shown.title = "invisible or control character";
    shown.append(piece);
    parent.append(shown);
  }
  return parent;
}

/** `text` with its unsafe characters as marks, as one string: for what takes text and
 * no nodes (a notification's title and body), where a U+202E in a name would otherwise
 * still reorder what is shown. */
const plainText = (text) => Array.from(safePieces(text), ([piece]) => piece).join("");

/** The first `chars` characters of `text` (whole code points), `…` when there is more. */
function excerpt(text, chars) {
  const all = [...text];
  return all.length > chars ? `${all.slice(0, chars).join("")}…` : text;
}

/** Append `parts` to `parent`: a string, or a list of strings and nodes (the page's
 * sentences with names in them, `named` below), the strings as safe text. */
function appendParts(parent, parts) {
  for (const part of [parts].flat()) {
    if (part instanceof Node) parent.append(part);
    else appendText(parent, part);
  }
}

/** A new element holding `text` (a string, or parts: appendParts) safely. */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) appendParts(node, text);
  return node;
}

/** A user-supplied name, isolated from the text around it. */
const nameOf = (text, className) => el("bdi", className, text);

/** A name inside one of the page's own sentences (a notice, a line in a room): set
 * apart (bold), so that a room named `x” was deleted. Admins: DM bob your password. “y`
 * cannot pass for the rest of the sentence. */
const named = (text) => nameOf(text, "name");

function replaceText(node, text) {
  node.replaceChildren();
  appendParts(node, text);
}

// -- messages to the user ------------------------------------------------------------------

let alertTimer = null;
let listsTimer = null;

function describe(error) {
  if (!error) return "Something went wrong.";
  if (error.code === "rate_limited") {
    const wait = error.details?.retry_after;
    return wait === undefined
      ? "Too many requests: slow down a little."
      : `Too many requests: try again in ${wait} s.`;
  }
  return error.message || error.code || "Something went wrong.";
}

function showError(error) {
  if (error?.code === "stopped") return; // our own logout or sign-out: nothing to say
  replaceText($("alert-text"), typeof error === "string" ? error : describe(error));
  $("alert").dataset.code = error?.code ?? "";
  $("alert").hidden = false;
  clearTimeout(alertTimer);
  alertTimer = setTimeout(() => hideBanner("alert"), ERROR_SHOWN_MS);
}

/** Take a banner down. The focus on its × (a keyboard user dismissing it, or reading it
 * when it timed out) goes on to the message box, or the room list, not to nowhere. */
function hideBanner(id) {
  const banner = $(id);
  const hadFocus = banner.contains(document.activeElement);
  banner.hidden = true;
  if (hadFocus) skipToMessageBox();
}

function showNotice(text, severity, fromServer = false) {
  const notice = $("notice");
  notice.dataset.server = fromServer ? "yes" : "";
  notice.className = `banner ${severity === "warning" || severity === "error" ? severity : ""}`;
  replaceText($("notice-text"), text);
  notice.hidden = false;
}

// -- confirmations ------------------------------------------------------------------------

/** Ask before what cannot be undone, in the page (`window.confirm` blocks the page, does
 * not follow its style, and a browser may stop showing it): a modal dialog, whose
 * *Cancel* has the focus (Enter on a Delete key pressed once more does not delete), Esc
 * cancels. True when confirmed. The focus goes back to where it was, or, when that is
 * gone (the line deleted meanwhile), to `fallback()`. */
function confirmAction(question, action, fallback) {
  const dialog = $("confirm");
  // Modal: nothing else can ask while it is open (a second question would be answered
  // by the first one's close).
  if (dialog.open) return Promise.resolve(false);
  const opener = document.activeElement;
  replaceText($("confirm-text"), question);
  replaceText($("confirm-yes"), action);
  dialog.returnValue = "";
  dialog.showModal();
  $("confirm-no").focus();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        const back = opener?.isConnected && displayed(opener) ? opener : fallback?.();
        back?.focus();
        resolve(dialog.returnValue === "yes");
      },
      { once: true },
    );
  });
}

// -- REST ------------------------------------------------------------------------------------

class ServerError extends Error {
  constructor(error) {
    super(error.message || error.code);
    this.code = error.code;
    this.details = error.details;
  }
}

/** A REST path from its segments, each encoded: an id is the server's, but it is text
 * all the same, and a `/` or `?` in one must not change which resource is meant. (A
 * segment that is `.` or `..` cannot be carried at all: the browser resolves it, encoded
 * or not; see DOT_SEGMENT.) */
const pathOf = (...segments) => segments.map((s) => `/${encodeURIComponent(s)}`).join("");

/** A request to `/api/v1${path}` whose answer is a success: its Response, the body not
 * read yet. Otherwise a ServerError: the API's error, `http_<status>` for an answer
 * without its envelope, `network` when the server cannot be reached, `stopped` when
 * `signal` (an AbortSignal) aborted it. */
async function fetchApi(method, path, body, token, signal) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      signal,
    });
  } catch {
    if (signal?.aborted) throw new ServerError({ code: "stopped", message: "Stopped." });
    throw new ServerError({ code: "network", message: "Cannot reach the server." });
  }
  if (response.ok) return response;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  throw new ServerError(
    data?.error ?? { code: `http_${response.status}`, message: `HTTP ${response.status}` },
  );
}

/** A request's answer, its JSON decoded (null for none); refused, fetchApi's error. An
 * admin request refused `permission_denied` has the role asked again (followRole): the
 * operator may have taken it away since the sign-in. */
async function rest(method, path, body, token) {
  let response;
  try {
    response = await fetchApi(method, path, body, token);
  } catch (error) {
    if (error.code === "permission_denied" && path.startsWith("/admin/")) followRole();
    throw error;
  }
  try {
    return await response.json();
  } catch {
    return null;
  }
}

// -- the real-time connection ------------------------------------------------------------

/** One WebSocket to /ws; `request` pairs responses by id. The token goes in the first
 * frames (`client_hello`, then `authenticate`), never in the URL, which proxies log. */
class Connection {
  constructor(token, handlers) {
    this.token = token;
    this.handlers = handlers;
    this.pending = new Map();
    this.counter = 0;
    this.ready = false;
    this.stopped = false;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.ws = new WebSocket(`${scheme}//${location.host}/ws`);
    this.ws.onmessage = (e) => this.received(e.data);
    this.ws.onclose = (e) => this.closed(e);
    this.unanswered = 0; // pings sent since the server was last heard from
    this.ping = setInterval(() => this.keepAlive(), PING_EVERY_MS);
  }

  /** A ping every PING_EVERY_MS; a connection that has heard nothing since the last two
   * (not even their pongs) is dead though open (a laptop that slept, a network that
   * changed; a connect that hangs): given up, and the page connects again (the usual
   * back-off, 1 s first) rather than when the browser notices, minutes later. */
  keepAlive() {
    if (this.unanswered >= 2) {
      this.ws.onclose = null;
      this.ws.onmessage = null;
      this.ws.close(); // its closing handshake may never end: not waited for
      this.closed({ code: 1006 });
      return;
    }
    this.unanswered += 1;
    this.send({ type: "ping" });
  }

  send(message) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  /** The server said hello (always its first frame): hello back, then the token. Its
   * `authenticate_response` comes to `handlers.authenticated`. */
  signIn() {
    // lairchat's own events (docs/protocols/TCP.md): a server that does not know them ignores it.
    const features = [LAIRCHAT_EVENTS];
    this.send({ type: "client_hello", version: "1.0", client_name: "lairchat web", features });
    this.send({ type: "authenticate", token: this.token, request_id: "authenticate" });
  }

  /** The command's response (success or not); rejects when not connected. */
  request(type, fields = {}) {
    if (!this.ready) {
      return Promise.reject(
        new ServerError({ code: "offline", message: "Not connected to the server; reconnecting…" }),
      );
    }
    const request_id = `r${++this.counter}`;
    const frame = JSON.stringify({ type, ...fields, request_id });
    if (utf8Length(frame) > FRAME_MAX_BYTES) {
      return Promise.reject(
        new ServerError({ code: "too_large", message: "Too large to send (1 MiB at most)." }),
      );
    }
    return new Promise((resolve, reject) => {
      this.pending.set(request_id, { resolve, reject });
      this.ws.send(frame);
    });
  }

  received(data) {
    this.unanswered = 0;
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof message?.type !== "string") return;
    const waiting = message.request_id != null && this.pending.get(message.request_id);
    if (waiting && message.type.endsWith("_response")) {
      this.pending.delete(message.request_id);
      waiting.resolve(message);
    } else if (message.type === "authenticate_response") {
      this.ready = message.success === true;
      this.handlers.authenticated(message);
    } else if (message.type === "error") {
      this.handlers.errorFrame(message);
    } else if (message.type === "server_hello") {
      this.signIn();
    } else if (message.type !== "pong") {
      this.handlers.event(message);
    }
  }

  closed(event) {
    this.ready = false;
    clearInterval(this.ping);
    const lost = this.stopped
      ? { code: "stopped", message: "Signed out." }
      : { code: "offline", message: "The connection was lost." };
    for (const { reject } of this.pending.values()) reject(new ServerError(lost));
    this.pending.clear();
    if (!this.stopped) this.handlers.dropped(event);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.ping);
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000);
  }
}

// -- state -----------------------------------------------------------------------------------

const state = {
  token: null,
  me: null,
  connection: null,
  retries: 0,
  retryTimer: null,
  rooms: new Map(), // joined: id -> room
  roles: new Map(), // joined room id -> my role there ("owner", "moderator", "member")
  publicRooms: new Map(), // id -> RoomListItem: the public rooms found for the search
  paging: { rooms: listing(), people: listing() }, // the public rooms', the people's pages
  invitations: [],
  users: new Map(), // id -> username
  online: new Set(),
  unread: new Map(), // conversation key -> count
  mentions: new Map(), // conversation key -> Set of ids of its unread messages mentioning us
  mentionSeeds: new Map(), // conversation key -> unread mentions the server counted (no ids)
  conversations: new Map(), // key -> conversation
  active: null, // key of the open conversation
  typing: new Map(), // key -> Map(user id -> timer)
  lastTyping: new Map(), // conversation key -> when `typing` was last sent there
  drafts: new Map(), // conversation key -> text typed there, not sent
  editing: null, // { id, text }: the message being edited, and its text so far
  membersOpen: false, // the open room's member list shown
  members: null, // { roomId, byId: user id -> member (null until fetched), pending: events }
  invited: null, // { roomId, list, more }: the open room's pending invitations (owners, moderators)
  searchTimers: {}, // list name -> the timer that asks the server for the search typed
  search: null, // the message search shown: { query, key (null: everywhere), messages, … }
  reacting: null, // the id of the message the reaction picker is open for
  pins: new Map(), // room id -> { list: its pins, newest first (null until fetched), pending }
  pinsOpen: false, // the open room's pinned messages shown
  pinsMissing: false, // the server has no pinned messages (its route is missing)
  twoFactorOn: false, // the account has two-factor sign-in on (GET /users/me): a code is asked
  readTimer: null,
  lookups: new Map(), // user id -> Promise
};

/** How far a server list (`list_rooms`, `list_users`) was paged, for one search. */
function listing(search = "") {
  return { search, offset: 0, hasMore: false, busy: false };
}

const matches = (name, search) => name.toLowerCase().includes(search.toLowerCase());

function conversation(key) {
  let conv = state.conversations.get(key);
  if (!conv) {
    const [kind, id] = key.split(":");
    const target = kind === "room" ? { type: "room", room_id: id } : { type: "dm", recipient: id };
    conv = { key, kind, id, target, messages: [], ids: new Set(), hasMore: false, loaded: false };
    state.conversations.set(key, conv);
  }
  return conv;
}

function keyOfTarget(target, otherParty) {
  return target.type === "room" ? `room:${target.room_id}` : `dm:${otherParty}`;
}

function keyOfMessage(message) {
  const other =
    message.author === state.me?.id ? message.target.recipient : message.author;
  return keyOfTarget(message.target, other);
}

function userName(id) {
  if (id === state.me?.id) return state.me.username;
  return state.users.get(id);
}

// -- mentions --------------------------------------------------------------------------------

/** A character of a username (lairchat/domain/validation.py, `USERNAME_CHAR`): a letter
 * or number of any script (Unicode Alphabetic, which holds the vowel signs of Indic
 * scripts, or Number), or `_`. No `-`, `.` or `@`: the server refuses them in a name. */
const NAME = String.raw`[\p{Alphabetic}\p{N}_]`;
/** `@` not after a name's character (`a@alice.com` is an address), and the whole run of
 * name characters after it (`@alice2` is not alice). No lookbehind (Safari before 16.4
 * has none): the character before is matched instead. */
const CANDIDATE = new RegExp(`(?:^|(?!${NAME})[^])@(${NAME}+)`, "gu");

/** Text as names are compared: NFKC (a decomposed "é", fullwidth letters or "＠" read as
 * the plain ones), then Unicode's case folding as JavaScript can do it: lower, upper,
 * lower (so "ß", "ẞ" and "SS" fold alike, as with Python's `casefold`); never the
 * locale's (which makes "I" a dotless "ı" in Turkish). The dotless "ı" is the one letter
 * that round trip folds other than `casefold` (its upper case is "I", so it would become
 * "i"): it is kept as it is, as `casefold` keeps it, so `@kıkı` does not name "kiki".
 * Checked on every code point against the terminal client's rule
 * (tests/unit/test_mention_rule_agreement.py). */
const fold = (text) =>
  text
    .normalize("NFKC")
    .split("ı")
    .map((part) => part.toLowerCase().toUpperCase().toLowerCase())
    .join("ı");

/** Whether `content` mentions `username`: `@` and the name as a whole word, compared
 * folded (docs/WEB.md, "Mentions"; the terminal client's rule, lairchat/client). */
function mentions(content, username) {
  const name = fold(username);
  // Only the first 4096 characters (code points, as the terminal client counts them):
  // every message lairchat accepts (4096 bytes, never fewer bytes than characters) is
  // read whole, and a megabyte from another server is not folded at every redraw. Twice
  // as many UTF-16 units hold at least that many characters.
  const head = Array.from(content.slice(0, 2 * CONTENT_MAX_BYTES)).slice(0, CONTENT_MAX_BYTES);
  const plain = head.join("").normalize("NFKC");
  for (const found of plain.matchAll(CANDIDATE)) {
    if (fold(found[1]) === name) return true;
  }
  return false;
}

/** Someone else's message mentioning us (our own never counts). */
const mentionsMe = (message) =>
  Boolean(state.me) &&
  message.author !== state.me.id &&
  mentions(message.content, state.me.username);

/** A conversation the lists show (not a room left, which a message crossing our leaving
 * could count): only these count in the title. */
const listed = (key) => key.startsWith("dm:") || state.rooms.has(key.slice("room:".length));

/** How many unread messages of `key` mention us: those the server counted when the page
 * (re)connected, and those that arrived live since. */
const mentionCount = (key) =>
  (state.mentionSeeds.get(key) || 0) + (state.mentions.get(key)?.size || 0);

/** `key` read (or gone): none of its mentions is unread any more. */
function forgetMentions(key) {
  state.mentions.delete(key);
  state.mentionSeeds.delete(key);
}

/** lairchat's own `messages_read`: `target` (as the reader sent it: a DM names the other
 * party) was read on some device, leaving the server's counts; they only lower ours (what
 * came since is counted live). */
function readElsewhere(target, unread, mentioned) {
  if (!target || typeof target !== "object") return;
  const key = keyOfTarget(target, target.recipient);
  const left = Number.isInteger(unread) && unread >= 0 ? unread : 0;
  if ((state.unread.get(key) || 0) > left) {
    if (left) state.unread.set(key, left);
    else state.unread.delete(key);
  }
  const mentions = Number.isInteger(mentioned) && mentioned >= 0 ? mentioned : 0;
  if (mentionCount(key) > mentions) {
    state.mentions.delete(key);
    if (mentions) state.mentionSeeds.set(key, mentions);
    else state.mentionSeeds.delete(key);
  }
  listsChanged();
}

/** The server's mention counts (lairchat's `unread_counts.mentions`), asked for when the
 * live mentions were `known` (key -> ids): those are among the server's if still unread,
 * so they give way to its counts; one that arrived since is ours to count on. A server
 * that counts none (Lair Chat; `counts` absent) leaves the live ones as they are. */
function seedMentions(counts, known) {
  if (!counts || typeof counts !== "object") return;
  state.mentionSeeds = new Map();
  for (const [kind, table] of [["room", counts.by_room], ["dm", counts.by_dm]]) {
    for (const [id, n] of Object.entries(table ?? {})) {
      if (Number.isInteger(n) && n > 0) state.mentionSeeds.set(`${kind}:${id}`, n);
    }
  }
  for (const [key, ids] of known) {
    const live = state.mentions.get(key);
    for (const id of ids) live?.delete(id);
    if (live && !live.size) state.mentions.delete(key);
  }
}

/** Forget `id` as an unread mention (deleted, or edited to mention us no more). */
function unmention(id) {
  for (const [key, ids] of state.mentions) {
    if (!ids.delete(id)) continue;
    if (!ids.size) state.mentions.delete(key);
    listsChanged();
  }
}

/** Look an unknown author up once; fill in every place showing them. */
function lookUpUser(id) {
  if (state.lookups.has(id)) return;
  const found = ask("get_user", { user_id: id })
    .then((response) => {
      if (!response.success) return;
      state.users.set(id, response.user.username);
      for (const node of document.querySelectorAll(".author")) {
        if (node.dataset.user === id) replaceText(node, response.user.username);
      }
    })
    .catch(() => state.lookups.delete(id));
  state.lookups.set(id, found);
}

// -- views -----------------------------------------------------------------------------------

function showLogin(reason) {
  setAccountMenu(false);
  $("chat-view").hidden = true;
  $("login-view").hidden = false;
  replaceText($("login-reason"), reason || "");
  askCode(false);
  $("login-identifier").focus();
}

function showChat() {
  $("login-view").hidden = true;
  $("chat-view").hidden = false;
  replaceText($("me"), state.me ? state.me.username : "");
  renderAdmin();
}

function setStatus(text) {
  replaceText($("connection"), text);
}

/** What is shown beside a conversation: its unread count, and `@` while some of those
 * mention us. */
function badges(key) {
  const count = state.unread.get(key) || 0;
  const mentioned = mentionCount(key);
  return [
    count && labelled(el("span", "badge", String(count)), `${count} unread`),
    mentioned && labelled(el("span", "badge mention", "@"), mentionsText(mentioned), true),
  ].filter(Boolean);
}

const mentionsText = (n) => (n === 1 ? "1 mention" : `${n} mentions`);

/** `node`, with `label` what a screen reader says for it (and, with `tip`, what a
 * pointer resting on it shows: "@" alone says little). */
function labelled(node, label, tip = false) {
  node.setAttribute("aria-label", label);
  if (tip) node.title = label;
  return node;
}

function listItem(label, key, onOpen, extra = []) {
  const item = document.createElement("li");
  const button = el("button", "link");
  button.type = "button";
  button.append(nameOf(label));
  button.addEventListener("click", onOpen);
  if (key && key === state.active) {
    item.className = "active";
    button.setAttribute("aria-current", "true");
  }
  item.append(...extra, button);
  const counts = key ? badges(key) : [];
  item.append(...counts);
  if (key) {
    item.dataset.key = key;
    // What is shown beside the name (online or not, how many unread, mentions) is said
    // with it: a screen reader on the button hears "bob, online, 3 unread", not "bob".
    const beside = [...extra, ...counts];
    beside.forEach((node, i) => (node.id = `${key}:${i}`));
    if (beside.length) button.setAttribute("aria-describedby", beside.map((n) => n.id).join(" "));
  }
  return item;
}

/** Replace the list's items; a button focused in it stays focused (the same
 * conversation's, else the one at the same place, else, when the list has none left,
 * the next control beside it): lists are redrawn on every event, and a focus dropped
 * to the page's start sends a keyboard user back through everything. */
function fillList(list, items, emptyText) {
  const focused = document.activeElement;
  const buttons = () => [...list.querySelectorAll("button")];
  const at = list.contains(focused) ? buttons().indexOf(focused) : -1;
  const key = at >= 0 ? focused.closest("li")?.dataset.key : undefined;
  list.replaceChildren(...(items.length ? items : [el("li", "empty", emptyText)]));
  if (at >= 0) {
    const same = key && [...list.children].find((item) => item.dataset.key === key);
    const now = buttons();
    const beside = () =>
      [...list.parentElement.querySelectorAll("input, button")].find(
        (node) => !list.contains(node) && displayed(node),
      );
    (same?.querySelector("button") ?? now[Math.min(at, now.length - 1)] ?? beside())?.focus();
  }
  oneTabStop(list);
}

/** Each list is one stop in the Tab order (100 people are not 100 stops on the way to
 * the next control): its focused button, else the open conversation's, else its first.
 * Up and Down, Home and End move between its buttons (listKeys). */
/** The button by which Tab enters `list` (oneTabStop). */
const tabStop = (list) => list.querySelector('button[tabindex="0"]');

/** Show or hide a button. One hidden while it has the focus (*More people…* after the
 * last page) hands the focus to `next()`, where the keyboard user goes on, rather than
 * to nowhere. */
function showButton(button, shown, next) {
  const hadFocus = !shown && document.activeElement === button;
  button.hidden = !shown;
  if (hadFocus) next()?.focus();
}

function oneTabStop(list) {
  const buttons = [...list.querySelectorAll("button")];
  const stop =
    buttons.find((button) => button === document.activeElement) ??
    list.querySelector("button[aria-current]") ??
    buttons[0];
  for (const button of buttons) button.tabIndex = button === stop ? 0 : -1;
}

function listKeys(event) {
  if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
  const buttons = [...event.currentTarget.querySelectorAll("button")];
  const at = buttons.indexOf(event.target);
  const to = { ArrowUp: at - 1, ArrowDown: at + 1, Home: 0, End: buttons.length - 1 }[event.key];
  if (at < 0 || to === undefined) return;
  event.preventDefault();
  buttons[Math.max(0, Math.min(to, buttons.length - 1))].focus();
}

const byName = (a, b) => a.localeCompare(b, undefined, { sensitivity: "base" });

function renderRooms() {
  const rooms = [...state.rooms.values()].sort((a, b) => byName(a.name, b.name));
  fillList(
    $("room-list"),
    rooms.map((room) => listItem(room.name, `room:${room.id}`, () => open(`room:${room.id}`))),
    "No rooms yet: create or join one.",
  );
  const search = state.paging.rooms.search;
  const joinable = [...state.publicRooms.values()]
    .filter((it) => !state.rooms.has(it.room.id) && matches(it.room.name, search))
    .map((it) => {
      const item = listItem(it.room.name, null, () => join(it.room.id));
      const button = item.querySelector("button");
      button.setAttribute("aria-describedby", "public-heading");
      button.title = "Join this room";
      const count = it.member_count;
      item.append(el("span", "hint", `${count} member${count === 1 ? "" : "s"}`));
      return item;
    });
  fillList($("public-list"), joinable, search ? "No public room found." : "No other public rooms.");
  showButton($("public-more"), state.paging.rooms.hasMore, () => tabStop($("public-list")));
  renderInvitations();
}

/** Invitations received (`list_invitations`, `invitation_received`): the list and its
 * heading are shown only while there are some. */
function renderInvitations() {
  const items = state.invitations.map((inv) => {
    const item = el("li", "invitation");
    item.dataset.key = `invitation:${inv.id}`;
    item.append(nameOf(inv.room_name), el("span", "hint", " from "), nameOf(inv.inviter_name));
    item.append(
      actionButton("Accept", "accept", () => answerInvitation(inv, true)),
      actionButton("Decline", "decline", () => answerInvitation(inv, false)),
    );
    return item;
  });
  fillList($("invitation-list"), items, "");
  $("invitation-list").hidden = $("invitations-heading").hidden = !items.length;
}

/** Everyone known (pages of `list_users`, and whoever events named) matching the search. */
function renderUsers() {
  const search = state.paging.people.search;
  const people = [...state.users.entries()]
    .filter(([id, name]) => id !== state.me?.id && matches(name, search))
    .sort((a, b) => byName(a[1], b[1]));
  fillList(
    $("user-list"),
    people.map(([id, name]) => {
      const dot = el("span", `presence${state.online.has(id) ? " online" : ""}`);
      dot.setAttribute("aria-label", state.online.has(id) ? "online" : "offline");
      dot.setAttribute("role", "img");
      return listItem(name, `dm:${id}`, () => open(`dm:${id}`), [dot]);
    }),
    search ? "Nobody found." : "Nobody else here yet.",
  );
  showButton($("people-more"), state.paging.people.hasMore, () => tabStop($("user-list")));
}

function renderLists() {
  clearTimeout(listsTimer);
  listsTimer = null;
  renderRooms();
  renderUsers();
  // The tab says how many messages are unread in the conversations listed, and how
  // many of them mention us: "(5) lairchat", "(5, 2@) lairchat".
  const sum = (map, size) =>
    [...map].filter(([key]) => listed(key)).reduce((all, [, n]) => all + size(n), 0);
  const total = sum(state.unread, (n) => n);
  const counted = new Set([...state.mentions.keys(), ...state.mentionSeeds.keys()]);
  const mentioned = [...counted].filter(listed).reduce((all, key) => all + mentionCount(key), 0);
  const marks = mentioned ? `${total}, ${mentioned}@` : String(total);
  document.title = total ? `(${marks}) lairchat` : "lairchat";
  // On a phone the lists are out of sight while a conversation is open, and a mobile
  // browser hardly shows the tab's title: *Conversations* carries the count.
  const back = $("back");
  back.replaceChildren("Conversations");
  if (total) back.append(" ", el("span", "badge", String(total)));
  if (mentioned) back.append(" ", el("span", "badge mention", "@"));
  const said = mentioned ? `, ${mentionsText(mentioned)}` : "";
  if (total) back.setAttribute("aria-label", `Conversations, ${total} unread${said}`);
  else back.removeAttribute("aria-label");
}

/** The lists and the title, after an event changed them: redrawn once the events of
 * the next LISTS_EVERY_MS are in. Each redraw rebuilds every room and person; a flood
 * of messages (or of joins, presence changes) redrawing them once per event kept the
 * tab busy for seconds. What the user does is shown at once (`renderLists`). */
function listsChanged() {
  if (listsTimer === null) listsTimer = setTimeout(renderLists, LISTS_EVERY_MS);
}

function clock(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function messageItem(message, authorName) {
  const item = el("li", "message");
  item.tabIndex = -1; // reached with the arrow keys (lineKeys), not with Tab
  item.dataset.id = message.id;
  const time = el("time", "time", clock(message.created_at));
  time.dateTime = message.created_at;
  time.title = new Date(message.created_at).toLocaleString();
  const name = authorName ?? userName(message.author);
  const author = nameOf(name ?? "…", "author");
  author.dataset.user = message.author;
  if (name === undefined) lookUpUser(message.author);
  if (mentionsMe(message)) {
    // Not by colour alone: a mark at the line's start, said as "mentions you".
    item.classList.add("mention");
    const cue = el("span", "mention-mark");
    const at = el("span", null, "@");
    at.setAttribute("aria-hidden", "true");
    cue.append(at, el("span", "visually-hidden", "mentions you"));
    item.append(cue);
  }
  item.append(time, author, el("span", "content", message.content));
  if (message.edited) item.append(el("span", "edited", "(edited)"));
  item.append(pinMark(), messageActions(message), reactionBar(message));
  if (message.target?.type === "room") {
    showPinned(item, isPinned(message.target.room_id, message.id));
  }
  if (state.reacting === message.id) item.append(picker); // the line redrawn: kept open
  return item;
}

/** Edit and Delete for the author; Delete on others' room messages too, shown (by the
 * list's `moderator` class) only where the server lets us: as a room owner or moderator. */
function messageActions(message) {
  const actions = el("span", "actions");
  const mine = message.author === state.me?.id;
  if (mine) actions.append(actionButton("Edit", "edit", () => startEdit(message.id)));
  if (mine || message.target.type === "room") {
    const remove = actionButton("Delete", mine ? "delete" : "delete others", () =>
      deleteMessage(message.id),
    );
    actions.append(remove);
  }
  const react = actionButton("React", "react", () => openPicker(message.id));
  react.title = "Add a reaction";
  actions.append(react);
  if (message.target?.type === "room") {
    // Shown (the list's `pinner` class) to the room's owners and moderators.
    const roomId = message.target.room_id;
    const toggle = () => setPinned(roomId, message.id, !isPinned(roomId, message.id));
    actions.append(actionButton("Pin", "pin", toggle));
  }
  // In the Tab order only while their line has the focus (lineFocused): a conversation
  // of 500 messages is not 1,000 stops between the list and the message box.
  for (const button of actions.children) button.tabIndex = -1;
  return actions;
}

function actionButton(label, className, onClick) {
  const button = el("button", `link ${className}`, label);
  button.type = "button";
  button.addEventListener("click", onClick);
  return button;
}

/** Where the unread messages start: before the `count`th newest from someone else (the
 * oldest held, when more are unread than held). */
function firstUnread(conv, count) {
  let seen = 0;
  for (let i = conv.messages.length - 1; i >= 0; i -= 1) {
    if (conv.messages[i].author !== state.me.id) seen += 1;
    if (seen === count) return conv.messages[i].id;
  }
  return conv.messages[0]?.id ?? null;
}

function newMarker() {
  const marker = el("li", "new-marker", "New messages");
  marker.setAttribute("role", "separator");
  return marker;
}

function systemItem(text) {
  const item = el("li", "system", text);
  item.tabIndex = -1;
  return item;
}

// -- reactions -------------------------------------------------------------------------------

/** A message's reactions as the server gave them (lairchat's `reactions`: each emoji,
 * its count, the ids of its first 50 reactors, whether we are among them all: `me`), in
 * its order; what is no reaction left out. None from a server without reactions (Lair
 * Chat's messages have no such field). Ours is as the server says: our id is not
 * listed when 50 others reacted first, and our own reaction showed as not ours (a click
 * added it again). Looked for among the ids only from a lairchat that sends no `me`. */
function reactionsOf(message) {
  const given = Array.isArray(message?.reactions) ? message.reactions : [];
  return given
    .filter((r) => typeof r?.emoji === "string" && r.emoji && Number.isInteger(r.count))
    .map((r) => {
      const ids = (Array.isArray(r.user_ids) ? r.user_ids : []).filter(
        (id) => typeof id === "string",
      );
      const me = typeof r.me === "boolean" ? r.me : ids.includes(state.me?.id);
      return { emoji: r.emoji, count: Math.max(r.count, ids.length), user_ids: ids, me };
    })
    .filter((r) => r.count > 0);
}

/** `reactions` after `userId` added (or took back) `emoji`: a new emoji goes last (the
 * server orders them by first use), one nobody keeps goes. Whether they are counted
 * already decides: ours by `me`, another's by the ids listed. So our own change,
 * applied when the server confirms it, is not counted again when its event comes.
 * Another reactor beyond the 50 listed is counted only when `sure` (an event: the
 * server sends one only for a change), since they might have been counted already. */
function withReaction(reactions, emoji, userId, added, sure) {
  const ours = userId === state.me?.id;
  const reaction = reactions.find((r) => r.emoji === emoji);
  if (!reaction) {
    return added ? [...reactions, { emoji, count: 1, user_ids: [userId], me: ours }] : reactions;
  }
  const listed = ours ? reaction.me : reaction.user_ids.includes(userId);
  const unlisted = !ours && reaction.count > reaction.user_ids.length; // maybe among them
  const changes = added ? !listed && (sure || !unlisted) : listed || (unlisted && sure);
  if (!changes) return reactions;
  const count = reaction.count + (added ? 1 : -1);
  const user_ids = added
    ? [...reaction.user_ids, userId]
    : reaction.user_ids.filter((id) => id !== userId);
  const changed = count > 0 ? [{ emoji, count, user_ids, me: ours ? added : reaction.me }] : [];
  return reactions.flatMap((r) => (r === reaction ? changed : [r]));
}

/** The message `id` as held (a line may have been drawn from a copy of it), or null. */
function heldMessage(id) {
  for (const conv of state.conversations.values()) {
    if (conv.ids.has(id)) return conv.messages.find((m) => m.id === id) ?? null;
  }
  return null;
}

/** Whether we reacted to `message` with `emoji`. */
const reactedWith = (message, emoji) =>
  reactionsOf(message).some((r) => r.emoji === emoji && r.me);

/** lairchat's own `reaction_added` / `reaction_removed` (`sure`), or our own change once
 * the server has it: the held message's reactions, and its line if shown. */
function reactionChanged(messageId, emoji, userId, added, sure) {
  const message = heldMessage(messageId);
  if (!message || typeof emoji !== "string" || !emoji || typeof userId !== "string") return;
  message.reactions = withReaction(reactionsOf(message), emoji, userId, added, sure);
  renderReactions(message);
}

/** Why `emoji` (NFC) cannot be a reaction, checked before asking the server (its rule:
 * not empty, at most 32 bytes, nothing of REACTION_BANNED), or null. */
function reactionProblem(emoji) {
  if (!emoji) return "Type an emoji to react with.";
  if (utf8Length(emoji) > REACTION_MAX_BYTES) {
    return `That is too long for a reaction (${REACTION_MAX_BYTES} bytes at most).`;
  }
  if (REACTION_BANNED.test(emoji.replace(FLAGS, ""))) {
    return "A reaction cannot hold spaces, “/” or invisible characters.";
  }
  return null;
}

/** Add our `emoji` to message `id`, or take it back (`add` false): `PUT` or `DELETE
 * /messages/{id}/reactions/{emoji}`, the emoji percent-encoded (NFC, as the server
 * keeps it); `add_reaction` or `remove_reaction` for one no path can carry
 * (DOT_SEGMENT). Shown once the server has it; its event, when it comes, changes
 * nothing more. Returns the refusal as said to the user (in the server's words; a
 * server without the route as `This server has no reactions.`), or null. */
async function react(id, emoji, add) {
  const nfc = emoji.normalize("NFC");
  try {
    if (DOT_SEGMENT.test(nfc)) {
      const fields = { message_id: id, emoji: nfc };
      const response = await ask(add ? "add_reaction" : "remove_reaction", fields);
      if (!response.success) throw new ServerError(response.error ?? {});
    } else {
      const path = pathOf("messages", id, "reactions", nfc);
      await rest(add ? "PUT" : "DELETE", path, undefined, state.token);
    }
  } catch (error) {
    return lacksRoute(error) ? NO_REACTIONS : describe(error);
  }
  reactionChanged(id, nfc, state.me.id, add, false);
  return null;
}

/** A reaction's button clicked: ours taken back, or ours added. */
async function toggleReaction(id, emoji) {
  const refused = await react(id, emoji, !reactedWith(heldMessage(id), emoji));
  if (refused) showError(`Reaction not changed: ${refused}`);
}

/** What a reaction's button says to screen readers (its text is the emoji and count). */
const reactionLabel = (emoji, count, mine) =>
  mine
    ? `Remove your ${plainText(emoji)} reaction (${count})`
    : `React with ${plainText(emoji)} (${count})`;

/** Who reacted, for the button's title: `you, alice and 3 others` (the names the page
 * knows; the rest looked up when the button is pointed at or focused; `you` first when
 * we are beyond the 50 listed). */
function reactorsText(reaction) {
  const names = reaction.user_ids.map((id) =>
    id === state.me?.id ? "you" : plainText(userName(id) ?? "someone"),
  );
  if (reaction.me && !reaction.user_ids.includes(state.me?.id)) names.unshift("you");
  const others = reaction.count - names.length;
  if (others > 0) names.push(others === 1 ? "1 other" : `${others} others`);
  return names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)}` : names.join("");
}

/** The reactors' names on `button`'s title, those not known yet asked for. */
function nameReactors(reaction, button) {
  button.title = reactorsText(reaction);
  const unknown = reaction.user_ids.filter((id) => userName(id) === undefined);
  for (const id of unknown) lookUpUser(id);
  if (!unknown.length) return;
  Promise.allSettled(unknown.map((id) => state.lookups.get(id))).then(() => {
    button.title = reactorsText(reaction);
  });
}

/** The buttons under a message, one per reaction (`👍 2`), ours pressed; hidden when
 * there is none. In the Tab order while their line has the focus, as its actions. */
function reactionBar(message) {
  const bar = el("div", "reactions");
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", "Reactions");
  for (const reaction of reactionsOf(message)) {
    const mine = reaction.me;
    const button = el("button", "reaction", [
      el("span", "emoji", reaction.emoji),
      ` ${reaction.count}`,
    ]);
    button.type = "button";
    button.tabIndex = -1;
    button.dataset.emoji = reaction.emoji;
    button.setAttribute("aria-pressed", String(mine));
    button.setAttribute("aria-label", reactionLabel(reaction.emoji, reaction.count, mine));
    button.title = reactorsText(reaction);
    button.addEventListener("pointerenter", () => nameReactors(reaction, button));
    button.addEventListener("focus", () => nameReactors(reaction, button));
    button.addEventListener("click", () => toggleReaction(message.id, reaction.emoji));
    bar.append(button);
  }
  bar.hidden = !bar.childElementCount;
  return bar;
}

/** A message's reactions changed: its bar drawn again. The focus on one of them stays
 * on it, or, gone (the last of an emoji taken back), goes to the line's *React*. */
function renderReactions(message) {
  const line = messageNode(message.id);
  const old = line?.querySelector(".reactions");
  if (!old) return;
  const focus = document.activeElement;
  const focused = old.contains(focus) ? focus.dataset.emoji : null;
  const bar = reactionBar(message);
  if (line === lineWithActions) for (const button of bar.children) button.tabIndex = 0;
  old.replaceWith(bar);
  if (focused === null) return;
  const same = [...bar.children].find((button) => button.dataset.emoji === focused);
  (same ?? line.querySelector(".actions .react") ?? line).focus();
}

/** The reaction picker: one form, moved under the line it is opened for. Held here, as
 * while its line is gone (redrawn, deleted) it is out of the document. */
const picker = $("reaction-picker");

/** The picker opened under message `id` (its *React*, or `R` on its line), the focus
 * on its first emoji. */
function openPicker(id) {
  const line = messageNode(id);
  if (!line) return;
  state.reacting = id;
  picker.reset();
  replaceText(picker.querySelector(".reason"), "");
  line.append(picker);
  picker.hidden = false;
  picker.querySelector("button").focus();
}

/** The picker closed (Esc, *Cancel*, a reaction added, the conversation left): out of
 * the lines. The focus, if it was in it, goes to `next`'s answer, or the line's *React*. */
function closePicker(next) {
  const id = state.reacting;
  state.reacting = null;
  const hadFocus = picker.contains(document.activeElement);
  picker.hidden = true;
  picker.reset();
  $("messages").after(picker);
  if (!hadFocus || !id) return;
  const line = messageNode(id);
  (next?.(line) ?? line?.querySelector(".actions .react") ?? line ?? $("messages")).focus();
}

/** An emoji picked (one of the picker's, or typed): added, the picker closed and the
 * focus on the reaction; a refusal said in the picker, which stays open. */
async function pickReaction(emoji) {
  const id = state.reacting;
  if (!id) return;
  const refused = await react(id, emoji, true);
  if (state.reacting !== id) {
    if (refused) showError(`Reaction not added: ${refused}`); // the picker closed meanwhile
  } else if (refused) {
    replaceText(picker.querySelector(".reason"), refused);
  } else {
    const nfc = emoji.normalize("NFC");
    closePicker((line) =>
      [...(line?.querySelectorAll(".reactions button") ?? [])].find((b) => b.dataset.emoji === nfc),
    );
  }
}

/** The picker's own emoji typed (*Add*): checked as the server would, then added. */
function pickTyped(event) {
  event.preventDefault();
  const emoji = picker.querySelector("input").value.trim().normalize("NFC");
  const problem = reactionProblem(emoji);
  if (problem) replaceText(picker.querySelector(".reason"), problem);
  else pickReaction(emoji);
}

/** The picker's keys, kept from the message list's (`E`, arrows), but for the page's
 * own (Alt+Up, Alt+Down): Esc closes it, Left and Right move between its emoji. */
function pickerKeys(event) {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  event.stopPropagation();
  if (event.key === "Escape") {
    event.preventDefault();
    closePicker();
    return;
  }
  const emoji = [...picker.querySelectorAll("button[data-emoji]")];
  const at = emoji.indexOf(event.target);
  const step = { ArrowLeft: -1, ArrowRight: 1 }[event.key];
  if (at < 0 || !step) return;
  event.preventDefault();
  emoji[(at + step + emoji.length) % emoji.length].focus();
}

// -- pinned messages -----------------------------------------------------------------------------

/** A pin as the server gave it (`{message, pinned_by, pinned_at}`, docs/protocols/HTTP.md,
 * "Pinned messages"), or null for what is none. */
function pinOf(given) {
  const message = given?.message;
  if (typeof message?.id !== "string" || typeof message.content !== "string") return null;
  const by = typeof given.pinned_by === "string" ? given.pinned_by : null;
  return { message, pinned_by: by, pinned_at: String(given.pinned_at ?? "") };
}

/** Room `roomId`'s pins as held (newest first), or null while not fetched. */
const pinsOf = (roomId) => state.pins.get(roomId)?.list ?? null;

/** Whether message `id` of room `roomId` is pinned, as far as the page knows. */
const isPinned = (roomId, id) => pinsOf(roomId)?.some((pin) => pin.message.id === id) ?? false;

/** Room `roomId`'s pins (`GET /rooms/{id}/pins`), asked for when the room is first opened
 * on a connection, then kept current by the events (pinEvent): not at every opening,
 * which would spend a request of the viewer's REST allowance each (Alt+Down through the
 * rooms). Events arriving while it is asked for are applied to the answer. */
async function loadPins(roomId) {
  if (state.pinsMissing || state.pins.has(roomId)) return;
  const held = { list: null, pending: [] };
  state.pins.set(roomId, held);
  try {
    const answer = await rest("GET", pathOf("rooms", roomId, "pins"), undefined, state.token);
    if (state.pins.get(roomId) !== held) return; // signed out, reconnected, left meanwhile
    held.list = (Array.isArray(answer?.pins) ? answer.pins : []).map(pinOf).filter(Boolean);
    for (const event of held.pending) applyPinEvent(roomId, held, event);
    held.pending = [];
  } catch (error) {
    if (state.pins.get(roomId) !== held) return;
    state.pins.delete(roomId); // asked again when the room is next opened
    if (lacksRoute(error)) state.pinsMissing = true;
    else showError(`Pinned messages not listed: ${describe(error)}`);
  }
  pinsChanged(roomId);
}

/** lairchat's own `message_pinned` / `message_unpinned`, or a pinned message edited or
 * deleted (`message_edited`, `message_deleted`: a deleted message's pin goes with it, and
 * the server sends no `message_unpinned` for it): the pins held follow. */
function pinEvent(event) {
  for (const [roomId, held] of state.pins) {
    if (event.room_id !== undefined && event.room_id !== roomId) continue;
    if (!held.list) {
      held.pending.push(event);
      continue;
    }
    const before = held.list;
    if (!applyPinEvent(roomId, held, event)) continue;
    pinsChanged(roomId);
    announcePin(roomId, event, before);
  }
}

/** Someone else's pin or unpin in the open room, read out by the announcer (polite):
 * *Pinned (3)* and the panel would change silently. Once per change: pinEvent calls it
 * only when the pins held changed, and a message pinned already is not said pinned
 * again. Not ours (the page showed it when the server said yes, a refusal is in the
 * banner), not a deleted message's pin (its line going is the news), not another
 * room's (nothing shown there changes). `before`: the pins held before the
 * event, where an unpinned message's text still is. */
function announcePin(roomId, event, before) {
  const pinned = event.type === "message_pinned";
  if (!pinned && event.type !== "message_unpinned") return;
  const by = pinned ? event.pinned_by : event.unpinned_by;
  if (by === state.me.id || state.active !== `room:${roomId}`) return;
  const id = pinned ? event.message?.id : event.message_id;
  const was = before.find((pin) => pin.message.id === id);
  if (pinned && was) return; // pinned already: the same news again (the server repeats none)
  const message = pinned ? event.message : was?.message;
  const who = nameOf((typeof by === "string" && userName(by)) || "Someone");
  const text = typeof message?.content === "string" ? message.content : "";
  const what = excerpt(text, ANNOUNCED_PIN_CHARS);
  say([who, pinned ? " pinned “" : " unpinned “", what, "”"]);
}

/** True when `event` (pinEvent's) changed room `roomId`'s pins held. */
function applyPinEvent(roomId, held, event) {
  const id = event.message_id ?? event.message?.id;
  const at = held.list.findIndex((pin) => pin.message.id === id);
  switch (event.type) {
    case "message_pinned": {
      const pin = pinOf(event);
      if (!pin) return false;
      // Ours, shown when the server said yes, is now dated as the server has it.
      held.list = [pin, ...held.list.filter((p) => p.message.id !== pin.message.id)];
      return true;
    }
    case "message_edited": {
      if (at < 0) return false;
      // An edit's message carries no reactions: the pin's are kept.
      const { message } = held.list[at];
      const edited = { ...message, ...event.message, reactions: message.reactions };
      held.list[at] = { ...held.list[at], message: edited };
      return true;
    }
    default: // unpinned, deleted
      if (at < 0) return false;
      held.list = held.list.filter((_, i) => i !== at);
      return true;
  }
}

/** Pin message `id` of room `roomId` (`pin`), or unpin it: `PUT` or `DELETE
 * /messages/{id}/pin`. Shown when the server says yes (its event, when it comes, dates
 * the pin as the server has it); a refusal in the banner, in the server's words. */
async function setPinned(roomId, id, pin) {
  try {
    await rest(pin ? "PUT" : "DELETE", pathOf("messages", id, "pin"), undefined, state.token);
  } catch (error) {
    const missing = lacksRoute(error);
    if (missing) state.pinsMissing = true;
    showError(`${pin ? "Not pinned" : "Not unpinned"}: ${missing ? NO_PINS : describe(error)}`);
    pinsChanged(roomId);
    return;
  }
  // Pinned already, it stays where it is (the server changed nothing, and sends nothing).
  if (pin && isPinned(roomId, id)) return;
  const message = heldMessage(id);
  const pinned_at = new Date().toISOString();
  pinEvent(
    pin
      ? { type: "message_pinned", room_id: roomId, message, pinned_by: state.me.id, pinned_at }
      : { type: "message_unpinned", room_id: roomId, message_id: id, unpinned_by: state.me.id },
  );
}

/** Room `roomId`'s pins changed (or were fetched, or found missing): the *Pinned* count,
 * the panel and the marks on the lines, if it is the room shown. */
function pinsChanged(roomId) {
  if (state.active !== `room:${roomId}`) return;
  renderConversationHead(conversation(state.active)); // no Pin once the server has none
  renderPins();
  for (const line of $("messages").querySelectorAll(":scope > li.message")) {
    showPinned(line, isPinned(roomId, line.dataset.id));
  }
}

/** A line's mark (`Pinned`, hidden unless its line is), set by showPinned. */
function pinMark() {
  const mark = el("span", "pin-mark", "Pinned");
  mark.hidden = true;
  return mark;
}

/** A message's line marked pinned or not, its *Pin* button saying what a click does. */
function showPinned(line, pinned) {
  line.classList.toggle("pinned", pinned);
  const mark = line.querySelector(".pin-mark");
  if (mark) mark.hidden = !pinned;
  const button = line.querySelector(".actions .pin");
  if (button && button.textContent !== (pinned ? "Unpin" : "Pin")) {
    replaceText(button, pinned ? "Unpin" : "Pin");
  }
}

/** *Pinned (3)* and, when shown, the open room's pinned messages: newest pin first, each
 * with its time, author and whole text, *Show* (the message in the conversation) and,
 * for owners and moderators, *Unpin*. One Tab stop, as the other lists. */
function renderPins() {
  const conv = state.active && conversation(state.active);
  const roomId = conv?.kind === "room" ? conv.id : null;
  const list = roomId && pinsOf(roomId);
  replaceText($("show-pins"), list ? `Pinned (${list.length})` : "Pinned");
  if (!roomId || !state.pinsOpen) return;
  const mayUnpin = moderates(state.roles.get(roomId)) && !state.pinsMissing;
  const items = (list ?? []).map((pin) => pinItem(roomId, pin, mayUnpin));
  const empty = state.pinsMissing ? NO_PINS : list ? "No pinned messages." : "Loading…";
  fillList($("pin-list"), items, empty);
}

function pinItem(roomId, pin, mayUnpin) {
  const { message } = pin;
  const item = el("li", "pin");
  item.dataset.key = `pin:${message.id}`;
  const time = el("time", "time", whenText(message.created_at));
  time.dateTime = message.created_at;
  const name = userName(message.author);
  const author = nameOf(name ?? "…", "author");
  author.dataset.user = message.author;
  if (name === undefined) lookUpUser(message.author);
  const content = el("span", "content", message.content);
  // Spaced: the line is also what a screen reader says with its buttons.
  const about = el("span", "pin-message", [time, " ", author, " ", content]);
  about.id = `pin-about:${message.id}`;
  if (message.edited) about.append(el("span", "edited", "(edited)"));
  item.append(about);
  if (pin.pinned_by) {
    const by = userName(pin.pinned_by);
    const pinner = nameOf(by ?? "…", "author pinner");
    pinner.dataset.user = pin.pinned_by;
    if (by === undefined) lookUpUser(pin.pinned_by);
    item.append(el("span", "hint", ["pinned by ", pinner, `, ${whenText(pin.pinned_at)}`]));
  }
  const buttons = [actionButton("Show", "show-pin", () => goToPinned(roomId, message.id))];
  if (mayUnpin) {
    buttons.push(actionButton("Unpin", "unpin", () => setPinned(roomId, message.id, false)));
  }
  // Said with the button: "Show, bob, 10:02, the text", not "Show" ten times.
  for (const button of buttons) button.setAttribute("aria-describedby", about.id);
  item.append(el("span", "pin-actions", buttons));
  return item;
}

/** *Pinned* pressed: the panel shown or hidden. */
function togglePins() {
  state.pinsOpen = !state.pinsOpen;
  replaceText($("pins-note"), "");
  renderConversationHead(state.active && conversation(state.active));
  renderPins();
}

/** *Show*: the pinned message's line, in the conversation, scrolled to and focused (older
 * pages loaded until it is there, as far as the page holds messages); too far back, the
 * panel says so (its whole text is in the panel). On a phone, where the panel takes the
 * conversation's place, the panel closes first. */
async function goToPinned(roomId, id) {
  const key = `room:${roomId}`;
  const conv = conversation(key);
  replaceText($("pins-note"), "");
  if (!displayed($("messages"))) togglePins(); // a phone shows the pins in its place
  while (state.active === key && !conv.ids.has(id) && conv.hasMore && conv.messages.length < KEEP) {
    const before = conv.messages.length;
    await loadHistory(conv, true);
    if (conv.messages.length === before) break; // nothing more came (refused, or loading)
  }
  if (state.active !== key) return;
  const line = messageNode(id);
  if (!line) {
    const far = "That message is further back than the conversation shows.";
    if (state.pinsOpen) {
      replaceText($("pins-note"), far);
    } else {
      showNotice(far); // the panel closed (a phone): said, the focus back on *Pinned*
      $("show-pins").focus();
    }
    return;
  }
  line.scrollIntoView({ block: "center" });
  line.focus();
}

// -- the message list from the keyboard ------------------------------------------------------

/** The line whose buttons are in the Tab order (the one with the focus). */
let lineWithActions = null;

/** A line's buttons: its actions, and its reactions. */
const LINE_BUTTONS = ".actions button, .reactions button";

function lineFocused(line) {
  if (line === lineWithActions) return;
  for (const button of lineWithActions?.querySelectorAll(LINE_BUTTONS) ?? []) {
    button.tabIndex = -1;
  }
  lineWithActions = line;
  for (const button of line?.querySelectorAll(LINE_BUTTONS) ?? []) button.tabIndex = 0;
}

/** The next (or previous) line that takes the focus: not the "New messages" one. */
function lineBeside(line, next) {
  let at = line;
  do at = next ? at.nextElementSibling : at.previousElementSibling;
  while (at && !at.hasAttribute("tabindex"));
  return at;
}

/** The message list is one stop in the Tab order: Up and Down move between its lines
 * (Home, End: the first, the last), and on a line `E` edits it and `Delete` deletes it
 * where its buttons offer that, `R` opens the reaction picker, `P` pins or unpins it
 * (moderators); Tab goes on to the line's buttons and reactions, then the message box. */
function lineKeys(event) {
  if (event.target.closest("textarea, input") || event.altKey || event.ctrlKey || event.metaKey) {
    return;
  }
  const list = $("messages");
  const line = event.target.closest("#messages > li");
  const lines = () => list.querySelectorAll(":scope > li[tabindex]");
  const press = (selector) => {
    const button = line?.querySelector(selector);
    if (button && displayed(button)) button.click();
    return null;
  };
  const to = {
    ArrowUp: () => (line ? lineBeside(line, false) : [...lines()].at(-1)),
    ArrowDown: () => (line ? lineBeside(line, true) : lines()[0]),
    Home: () => lines()[0],
    End: () => [...lines()].at(-1),
    e: () => press(".actions .edit"),
    E: () => press(".actions .edit"),
    Delete: () => press(".actions .delete"),
    r: () => press(".actions .react"),
    R: () => press(".actions .react"),
    p: () => press(".actions .pin"),
    P: () => press(".actions .pin"),
  }[event.key];
  if (!to) return;
  event.preventDefault();
  const target = to();
  target?.focus();
  if (event.key === "ArrowUp" && line && !target) olderMessages(); // at the top
}

// -- announcements (screen readers) ------------------------------------------------------

/** What is pushed goes to `deliver` at once, then at most once per `everyMs`: whatever
 * arrives meanwhile is delivered together (a list) when the time is up. `drop` forgets
 * what is held; `stop` that and the timer. Announcements and notifications: a busy room
 * or a flood does not keep a screen reader talking or the desktop flashing. */
function coalescing(everyMs, deliver) {
  let timer = null;
  let held = [];
  const flush = () => {
    const items = held;
    held = [];
    timer = items.length ? setTimeout(flush, everyMs) : null;
    if (items.length) deliver(items);
  };
  return {
    push(item) {
      held.push(item);
      if (timer === null) flush();
    },
    drop() {
      held = [];
    },
    stop() {
      clearTimeout(timer);
      timer = null;
      held = [];
    },
  };
}

/** New messages from others, for screen readers: read out from a live region of their
 * own. The message list is not one: opening a conversation, a reconnect or paging back
 * would read 50 messages at once. One announcement per ANNOUNCE_EVERY_MS at most; what
 * arrives meanwhile is summed up ("12 new messages") when the time is up. */
const announcing = coalescing(ANNOUNCE_EVERY_MS, (held) =>
  say(held.length === 1 ? held[0] : `${held.length} new messages`),
);
const announce = (parts) => announcing.push(parts);

/** Read `parts` out now (the announcer keeps its last three lines). */
function say(parts) {
  const region = $("announcer");
  region.append(el("p", null, parts));
  while (region.childElementCount > 3) region.firstElementChild.remove();
}

/** A message from someone else arrived: in the open conversation it is read out, in
 * another only a direct message or a mention of us is (rooms have their counts). */
function announceMessage(message, authorName, key, mention) {
  const name = nameOf(authorName ?? userName(message.author) ?? "someone");
  if (key === state.active) {
    announce([name, ": ", excerpt(message.content, ANNOUNCED_CHARS)]);
  } else if (key.startsWith("dm:")) {
    announce(["New direct message from ", name]);
  } else if (mention) {
    announce([name, " mentioned you in “", named(roomName(key)), "”"]);
  }
}

/** The name of the room `key` is (a conversation's key), as the lists show it. */
const roomName = (key) => state.rooms.get(key.slice("room:".length))?.name ?? "a room";

// -- desktop notifications ----------------------------------------------------------------

/** Per conversation key: its coalescing of notifications, and the one shown last. */
const notifiers = new Map();
const notified = new Map();

const notificationsExist = () => typeof window.Notification === "function";

/** The setting (localStorage, this browser's, off unless turned on). Storage may be
 * refused (a privacy mode): the setting is then off, and turning it on lasts the page. */
function notifySetting() {
  try {
    return localStorage.getItem(NOTIFY_KEY) === "on";
  } catch {
    return false;
  }
}

function saveNotifySetting(on) {
  try {
    if (on) localStorage.setItem(NOTIFY_KEY, "on");
    else localStorage.removeItem(NOTIFY_KEY);
  } catch {
    // not kept: on for this page only
  }
}

/** Notifications are wanted (the setting, the box) and allowed (the browser's permission,
 * which its site settings can take back at any time). */
const notifying = () =>
  notificationsExist() && $("notify").checked && Notification.permission === "granted";

/** The box as the setting and the permission say; hidden where the browser has no
 * notifications (nothing to turn on). */
function renderNotifySetting() {
  $("notify-setting").hidden = !notificationsExist();
  $("notify").checked =
    notificationsExist() && notifySetting() && Notification.permission === "granted";
}

/** The box changed: the only place the browser's permission is asked for (a user's
 * click; browsers ignore or penalise asking on page load). Refused, or the question
 * dismissed, the box goes back off and the page says how to allow them. */
async function notifySettingChanged() {
  const box = $("notify");
  if (!box.checked) {
    saveNotifySetting(false);
    return;
  }
  let permission = Notification.permission;
  if (permission === "default") {
    try {
      // Older Safari answers through a callback only, newer browsers with a promise.
      permission = await new Promise((resolve) => {
        Notification.requestPermission(resolve)?.then(resolve, () => resolve("denied"));
      });
    } catch {
      permission = "denied";
    }
  }
  const granted = permission === "granted";
  box.checked = granted;
  saveNotifySetting(granted);
  if (!granted) {
    const why = "this browser does not allow them for this page (see its site settings)";
    showNotice(`Notifications stay off: ${why}.`, "warning");
  }
}

/** A live message from someone else: a desktop notification when it is a direct message
 * or mentions us, and is not in plain sight (its conversation not the one shown, or the
 * tab in the background). At most one per conversation per NOTIFY_EVERY_MS. */
function notifyMessage(message, authorName, key, mention) {
  if (!(mention || key.startsWith("dm:"))) return;
  if (key === state.active && !document.hidden) return;
  if (!notifying()) return;
  let notifier = notifiers.get(key);
  if (!notifier) {
    notifier = coalescing(NOTIFY_EVERY_MS, (held) => showNotification(key, held));
    notifiers.set(key, notifier);
  }
  const name = authorName ?? userName(message.author) ?? "someone";
  notifier.push({ name, content: message.content });
}

/** One notification for `held` (what arrived in `key` since the last one). Text only
 * (the API takes no markup), the names and message with their unsafe characters marked
 * as on the page, and names quoted: a room named `x”. Admins: …` stays a name. Clicked,
 * it brings the tab forward with the conversation open. */
function showNotification(key, held) {
  if (!notifying()) return; // turned off (or taken back) while these were held
  const last = held.at(-1);
  const dm = key.startsWith("dm:");
  const room = dm ? "" : `“${roomName(key)}”`;
  const n = held.length;
  let title;
  if (dm) title = n === 1 ? last.name : `${n} new messages from ${last.name}`;
  else title = n === 1 ? `${last.name} mentioned you in ${room}` : `${n} new mentions in ${room}`;
  const text = excerpt(last.content, NOTIFIED_CHARS);
  const body = dm ? text : `${last.name}: ${text}`;
  let notification;
  try {
    notification = new Notification(plainText(title), { body: plainText(body), tag: key });
  } catch {
    return; // Chrome on Android shows them through a service worker only: none here
  }
  const token = state.token;
  notification.onclick = () => {
    window.focus();
    notification.close();
    if (state.token === token && listed(key)) open(key);
  };
  // The one before, if still up, goes: browsers replace one of the same tag, not all.
  notified.get(key)?.close();
  notified.set(key, notification);
}

/** `key` was read (or left): its notification goes, and what was held for it. */
function notificationsRead(key) {
  notifiers.get(key)?.drop();
  notified.get(key)?.close();
  notified.delete(key);
}

/** Signed out: no notification of the account stays on the desktop or comes later. */
function stopNotifying() {
  for (const notifier of notifiers.values()) notifier.stop();
  for (const notification of notified.values()) notification.close();
  notifiers.clear();
  notified.clear();
}

function nearBottom(list) {
  return list.scrollHeight - list.scrollTop - list.clientHeight < 60;
}

function renderConversationHead(conv) {
  const title = $("conversation-title");
  const description = $("conversation-description");
  title.replaceChildren();
  description.replaceChildren();
  if (!conv) {
    title.append("No conversation open");
  } else if (conv.kind === "room") {
    const room = state.rooms.get(conv.id);
    title.append("Room ", nameOf(room?.name ?? "…"));
    appendText(description, room?.settings?.description ?? "");
  } else {
    title.append("Direct messages with ", nameOf(userName(conv.id) ?? "…"));
  }
  const inRoom = conv?.kind === "room";
  $("chat-view").classList.toggle("conversation-open", Boolean(conv)); // phones: lists or it
  $("leave-room").hidden = !inRoom;
  $("show-members").hidden = !inRoom;
  $("show-members").setAttribute("aria-expanded", String(Boolean(state.membersOpen)));
  $("members").hidden = !(inRoom && state.membersOpen);
  $("show-pins").hidden = !inRoom;
  $("show-pins").setAttribute("aria-expanded", String(Boolean(state.pinsOpen)));
  $("pins").hidden = !(inRoom && state.pinsOpen);
  $("conversation").classList.toggle("pins-shown", inRoom && state.pinsOpen); // phones: in turn
  const role = conv?.kind === "room" ? state.roles.get(conv.id) : undefined;
  $("messages").classList.toggle("moderator", moderates(role));
  $("messages").classList.toggle("pinner", moderates(role) && !state.pinsMissing);
  $("room-settings").hidden = !moderates(role);
  // The box stays usable while the connection is down (a server restarting, the
  // back-off up to 30 s): the focus stays in it and typing goes on; only sending waits.
  $("message-input").disabled = !conv;
  $("send").disabled = !(conv && state.connection?.ready);
}

function renderConversation() {
  const conv = state.active && conversation(state.active);
  renderConversationHead(conv);
  const list = $("messages");
  list.setAttribute("aria-busy", "true");
  const hadFocus = editing();
  if (conv?.loaded && conv.newCount) {
    conv.newFrom = firstUnread(conv, conv.newCount);
    conv.newCount = 0;
  }
  list.replaceChildren(...(conv ? conv.messages.map((m) => messageItem(m, m.authorName)) : []));
  if (conv?.newFrom) messageNode(conv.newFrom)?.before(newMarker());
  keepEditing(hadFocus);
  list.setAttribute("aria-busy", "false");
  list.scrollTop = list.scrollHeight;
  $("load-older").hidden = !(conv && conv.hasMore);
  renderTyping();
}

/** Who is typing. Redrawn only when that changed: the line is a live region, and each
 * typer's `user_typing` every 3 s would have it read out again and again. */
function renderTyping() {
  const typers = state.active ? [...(state.typing.get(state.active)?.keys() ?? [])] : [];
  const line = el("p");
  typers.forEach((id, i) => {
    if (i) line.append(", ");
    line.append(nameOf(userName(id) ?? "someone"));
  });
  if (typers.length) line.append(typers.length === 1 ? " is typing…" : " are typing…");
  const node = $("typing");
  if (node.textContent !== line.textContent) node.replaceChildren(...line.childNodes);
}

// -- conversations ---------------------------------------------------------------------------

/** The message box holds the open conversation's draft: text typed for one
 * conversation is never sent to another by switching and pressing Enter. */
function switchDraft(key) {
  if (key === state.active) return;
  const input = $("message-input");
  if (state.active) state.drafts.set(state.active, input.value);
  input.value = (key && state.drafts.get(key)) ?? "";
  if (key) state.drafts.delete(key);
}

function open(key) {
  const again = key === state.active; // after a reconnect: the one open before
  if (!again) announcing.drop(); // the messages of the one left: not "new" here
  if (!again) closePicker(); // for a message of the one left
  if (!again) state.pinsOpen = false; // the room left's (on a phone, in its place)
  switchDraft(key);
  state.active = key;
  sessionStorage.setItem(OPEN_KEY, key);
  const conv = conversation(key);
  // The "New messages" line goes where the unread ones start (placed once they are held).
  // Opened again with nothing unread, it stays where it was: the server counts what
  // was shown before the connection dropped as read.
  const unread = state.unread.get(key) || 0;
  if (!again || unread) {
    conv.newCount = unread;
    conv.newFrom = null;
  }
  renderConversation();
  renderLists();
  if (!conv.loaded) loadHistory(conv);
  else markRead(conv);
  if (conv.kind === "room" && !state.roles.has(conv.id)) loadRole(conv.id);
  $("member-list").replaceChildren();
  loadMembers();
  loadInvited();
  if (conv.kind === "room") loadPins(conv.id);
  renderPins();
  // Reopened after a reconnect, the focus stays where the user has it (a search being
  // typed, an edit in progress), unless the redraw lost it. Opened by the user, the
  // conversation is written in; on a touch screen its title takes the focus instead
  // (the box would bring the on-screen keyboard up over half of it).
  const focused = document.activeElement;
  if (again && focused && focused !== document.body && displayed(focused)) return;
  const touch = matchMedia("(pointer: coarse)").matches;
  (touch ? $("conversation-title") : $("message-input")).focus();
}

/** Our role in a room: what the server lets us do there (delete others' messages). */
async function loadRole(roomId) {
  const response = await command("get_room", { room_id: roomId });
  if (response) setRole(roomId, response.membership?.role);
}

function setRole(roomId, role) {
  if (role) state.roles.set(roomId, role);
  else state.roles.delete(roomId);
  if (state.active === `room:${roomId}`) {
    renderConversationHead(conversation(state.active));
    renderMembers(); // Remove buttons follow the role
    renderPins(); // Unpin buttons too
    loadInvited(); // shown to owners and moderators
  }
  inviteCodesRoleChanged(roomId); // Room settings' invite codes, when open
}

function close(reason) {
  switchDraft(null);
  state.active = null;
  sessionStorage.removeItem(OPEN_KEY);
  renderConversation();
  renderLists();
  if (reason) showNotice(reason);
  // Focus was on the conversation (its box, now disabled, or "Leave room", now hidden).
  keepFocus();
}

/** A focus left nowhere (on the page itself, or on a control disabled or hidden since)
 * goes to the list of rooms, for keyboard users. */
function keepFocus() {
  const focused = document.activeElement;
  if (!focused || focused === document.body || focused.disabled || !displayed(focused)) {
    ($("room-list").querySelector("button") ?? $("new-room-name")).focus();
  }
}

/** Remember a message (once); true when it is new. */
function remember(conv, message, authorName, atStart = false) {
  if (conv.ids.has(message.id)) return false;
  conv.ids.add(message.id);
  const entry = { ...message, authorName };
  if (atStart) conv.messages.unshift(entry);
  else conv.messages.push(entry);
  return true;
}

async function loadHistory(conv, older = false) {
  if (conv.loading) return;
  conv.loading = true;
  const fields = { target: conv.target, limit: PAGE };
  if (older && conv.messages.length) fields.before = conv.messages[0].id;
  const known = new Set(conv.ids); // what the page will hold, or come before it
  try {
    const response = await ask("get_messages", fields);
    if (older && response.error?.code === "message_not_found") {
      // The oldest message shown is gone with no event to say so (the server's
      // retention pruned it), and maybe more: start again from the newest page.
      conv.loading = false;
      await loadHistory(conv);
      return;
    }
    if (!response.success) {
      showError(response.error);
      return;
    }
    const page = response.messages; // newest first
    if (older) {
      const list = $("messages");
      const fromBottom = list.scrollHeight - list.scrollTop;
      const added = page.filter((m) => remember(conv, m, undefined, true));
      conv.hasMore = response.has_more;
      if (conv.key === state.active) {
        const lines = added.reverse().map((m) => messageItem(m));
        list.prepend(...lines);
        list.scrollTop = list.scrollHeight - fromBottom;
        // The last page in: the focus on the button goes to the newest line loaded.
        showButton($("load-older"), conv.hasMore, () => lines.at(-1) ?? list);
      }
    } else {
      // Of the messages held, only those that arrived while the page was asked for are
      // kept (after it). Older ones are in the page, or older than it: kept, they would
      // show below the newest (more than a page arrived before the conversation was
      // opened) and leave a gap that paging with `before` never fills.
      const live = conv.messages.filter((m) => !known.has(m.id));
      conv.messages = [];
      conv.ids = new Set();
      for (const m of [...page].reverse()) remember(conv, m);
      for (const m of live) remember(conv, m, m.authorName);
      conv.hasMore = response.has_more;
      conv.loaded = true;
      if (conv.key === state.active) {
        renderConversation();
        markRead(conv);
      }
    }
  } catch (error) {
    showError(error);
  } finally {
    conv.loading = false;
  }
}

/** The id of the newest message the conversation shows: its last line, since the lines
 * are in the server's order. Not the latest `created_at` as text: "…:19Z" sorts after
 * "…:19.5Z", and "…:19.123Z" after "…:19.123456Z" (the fraction is left out when zero,
 * else 3 or 6 digits). */
const newestShown = (conv) => conv.messages.at(-1)?.id;

/** Mark `conv` read up to the newest message it shows, not "whatever is newest": one
 * stored while the request is on its way would count as read before the page showed
 * it. Nothing shown (not loaded yet, or empty), nothing is marked. */
async function markRead(conv) {
  if (!state.connection?.ready || document.hidden) return;
  clearTimeout(state.readTimer);
  const had = state.unread.get(conv.key) || mentionCount(conv.key);
  state.unread.delete(conv.key);
  forgetMentions(conv.key);
  notificationsRead(conv.key);
  if (had) renderLists();
  let newest = newestShown(conv);
  try {
    while (newest) {
      const response = await ask("mark_read", { target: conv.target, up_to: newest });
      if (response.success) return;
      if (response.error?.code !== "message_not_found") {
        showError(response.error);
        return;
      }
      // That message is gone: deleted while this was on its way (its event may have
      // come meanwhile), or pruned by the server's retention, which sends no event.
      // Nothing to tell the reader; the newest shown now, if another, is asked for.
      const now = newestShown(conv);
      newest = now === newest ? undefined : now;
    }
  } catch {
    // offline: the next connection fetches the counts again
  }
}

function received(message, authorName) {
  const key = keyOfMessage(message);
  const conv = conversation(key);
  const mine = message.author === state.me.id;
  if (key.startsWith("dm:") && !state.users.has(conv.id) && !mine && authorName) {
    state.users.set(conv.id, authorName);
  }
  if (!mine) stopTyping(key, message.author);
  const isNew = remember(conv, message, authorName);
  if (!isNew) return;
  const mention = mentionsMe(message);
  if (!mine) {
    announceMessage(message, authorName, key, mention);
    // Only here, for a live `message_received`: history and the catch-up after a
    // reconnect (loadHistory) never notify.
    notifyMessage(message, authorName, key, mention);
  }
  if (key === state.active) {
    const list = $("messages");
    const follow = mine || nearBottom(list);
    list.append(messageItem(message, authorName));
    if (!mine && document.hidden) {
      // Unseen (the tab is in the background): counted, and the line marks where from.
      countUnread(key, message, mention);
      if (!conv.newFrom) {
        conv.newFrom = message.id;
        list.lastElementChild.before(newMarker());
      }
    }
    // Trimmed only while following: someone reading older messages keeps them.
    if (follow) forgetOldest(conv);
    if (follow) list.scrollTop = list.scrollHeight;
    if (!mine) {
      clearTimeout(state.readTimer);
      state.readTimer = setTimeout(() => markRead(conv), 1000);
    }
  } else {
    forgetOldest(conv);
    if (!mine) countUnread(key, message, mention);
  }
  listsChanged();
}

/** One more unread message in `key`, and one more unread mention if it is one. */
function countUnread(key, message, mention) {
  state.unread.set(key, (state.unread.get(key) || 0) + 1);
  if (mention) state.mentions.set(key, (state.mentions.get(key) ?? new Set()).add(message.id));
}

/** Keep at most KEEP messages of `conv`, dropping its oldest (and their lines, and the
 * room's lines above them, when it is open); older ones are paged in again on request. */
function forgetOldest(conv) {
  const excess = conv.messages.length - KEEP;
  if (excess <= 0) return;
  for (const m of conv.messages.splice(0, excess)) conv.ids.delete(m.id);
  conv.hasMore = true;
  if (conv.key !== state.active) return;
  const list = $("messages");
  const first = conv.messages[0].id;
  while (list.firstElementChild && list.firstElementChild.dataset.id !== first) {
    list.firstElementChild.remove();
  }
  $("load-older").hidden = false;
}

// -- actions ---------------------------------------------------------------------------------

/** A command on the current connection (rejected when there is none). */
function ask(type, fields) {
  if (!state.connection) {
    return Promise.reject(new ServerError({ code: "stopped", message: "Signed out." }));
  }
  return state.connection.request(type, fields);
}

async function command(type, fields) {
  try {
    const response = await ask(type, fields);
    if (!response.success) {
      showError(response.error);
      return null;
    }
    return response;
  } catch (error) {
    showError(error);
    return null;
  }
}

async function join(roomId) {
  const response = await command("join_room", { room_id: roomId });
  if (response) entered(response.room, response.membership);
}

/** A room joined (by *Join*, or with an invite code): held, our role in it known, and
 * opened. */
function entered(room, membership) {
  state.rooms.set(room.id, room);
  setRole(room.id, membership?.role);
  open(`room:${room.id}`);
}

const messageNode = (id) => document.querySelector(`#messages li[data-id="${CSS.escape(id)}"]`);

/** The message's line becomes a box holding its text (or `text`, the edit so far):
 * Enter saves, Escape cancels. */
function startEdit(id, text) {
  const conv = state.active && conversation(state.active);
  const message = conv?.messages.find((m) => m.id === id);
  const item = messageNode(id);
  if (!message || !item || item.querySelector(".edit-box")) return null;
  const box = document.createElement("textarea");
  box.className = "edit-box";
  box.value = text ?? message.content;
  box.setAttribute("aria-label", "Edit message");
  state.editing = { id, text: box.value };
  box.addEventListener("input", () => (state.editing = { id, text: box.value }));
  const cancel = () => {
    state.editing = null;
    const line = messageItem(message, message.authorName);
    const hadFocus = item.contains(document.activeElement);
    item.replaceWith(line);
    if (hadFocus) line.focus(); // not to nowhere: the keyboard user goes on from the line
  };
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      saveEdit(message, box.value);
    } else if (e.key === "Escape") {
      e.preventDefault();
      cancel();
    }
  });
  item.querySelector(".content").replaceWith(box);
  item
    .querySelector(".actions")
    .replaceChildren(
      actionButton("Save", "save", () => saveEdit(message, box.value)),
      actionButton("Cancel", "cancel", cancel),
    );
  box.focus();
  return box;
}

/** A redraw of the conversation (a reconnect, an event) rebuilds every line: the edit
 * in progress is put back, with its text so far, and the focus if it had it. */
function keepEditing(hadFocus) {
  if (!state.editing) return;
  const { id, text } = state.editing;
  const box = startEdit(id, text);
  if (box && !hadFocus) box.blur();
}

const editing = () => document.activeElement?.classList.contains("edit-box") ?? false;

async function saveEdit(message, content) {
  if (tooLong(content)) return;
  const response = await command("edit_message", { message_id: message.id, content });
  if (!response) return;
  if (state.editing?.id === message.id) state.editing = null;
  showEdited(response.message);
}

async function deleteMessage(id) {
  if (!(await confirmAction("Delete this message?", "Delete", () => $("messages")))) return;
  const response = await command("delete_message", { message_id: id });
  if (response) forgetMessage(id);
}

/** A message as edited (by us, or an event): held and shown, marked "(edited)". */
function showEdited(message) {
  if (!mentionsMe(message)) unmention(message.id);
  const conv = conversation(keyOfMessage(message));
  const kept = conv.messages.find((m) => m.id === message.id);
  if (kept) Object.assign(kept, message);
  const node = messageNode(message.id);
  if (node && conv.key === state.active) {
    const hadFocus = editing();
    const inLine = node.contains(document.activeElement);
    // The one held: an edit's event carries no reactions, and the line keeps them.
    const line = messageItem(kept ?? message, kept?.authorName);
    node.replaceWith(line);
    if (state.editing?.id === message.id) keepEditing(hadFocus);
    else if (inLine) line.focus(); // saved (or edited elsewhere) with the focus in it
  }
}

function forgetMessage(id) {
  for (const conv of state.conversations.values()) {
    if (!conv.ids.has(id)) continue;
    conv.messages = conv.messages.filter((m) => m.id !== id);
    conv.ids.delete(id);
  }
  unmention(id);
  removeLine(messageNode(id));
}

/** A message's line goes; the focus in it goes to the next line (or the one before, or
 * the list) rather than to nowhere, where a keyboard user would start again from the top. */
function removeLine(line) {
  if (!line) return;
  const next = line.contains(document.activeElement)
    ? (lineBeside(line, true) ?? lineBeside(line, false) ?? $("messages"))
    : null;
  line.remove();
  next?.focus();
}

async function answerInvitation(invitation, accept) {
  const type = accept ? "accept_invitation" : "decline_invitation";
  const response = await command(type, { invitation_id: invitation.id });
  // Answered, or refused (expired, answered elsewhere): the list is asked again.
  state.invitations = state.invitations.filter((inv) => inv.id !== invitation.id);
  renderInvitations();
  await loadRooms();
  if (response && accept) {
    setRole(invitation.room_id, response.membership.role);
    open(`room:${invitation.room_id}`);
  }
}

// -- members (the panel of the open room) ------------------------------------------------------

/** The open room's members, asked for (REST: the protocol has no command for them) when
 * the list is shown, and then kept up to date from the room's events (memberEvent):
 * asking again for each join or departure spent a request of the viewer's own REST
 * allowance per event, which anyone coming and going could exhaust. */
async function loadMembers() {
  state.members = null;
  const conv = state.active && conversation(state.active);
  if (!conv || conv.kind !== "room" || !state.membersOpen) return;
  const token = state.token;
  // Events arriving before the answer are kept, and replayed on it: each sets a
  // member's presence or role, so one already in the answer changes nothing.
  const members = { roomId: conv.id, byId: null, pending: [] };
  state.members = members;
  try {
    const answer = await rest("GET", pathOf("rooms", conv.id, "members"), undefined, token);
    if (state.members !== members) return; // another room, or signed out, meanwhile
    members.byId = new Map(answer.members.map((member) => [member.user_id, member]));
    for (const event of members.pending) applyMemberEvent(members.byId, event);
    members.pending = [];
    renderMembers();
  } catch (error) {
    if (state.token === token) showError(error);
  }
}

/** The open room's pending invitations, under its members for its owners and moderators
 * (`GET /rooms/{id}/invitations`, whoever sent them), each with *Revoke*. Asked for
 * when the members are shown, when our role there changes, after an invitation is
 * sent or revoked; not at every event (a request of the viewer's allowance each): an
 * invitee joining is taken off the list here (`memberEvent`). */
async function loadInvited() {
  state.invited = null;
  const conv = state.active && conversation(state.active);
  const role = conv?.kind === "room" ? state.roles.get(conv.id) : undefined;
  const shown = Boolean(state.membersOpen && (role === "owner" || role === "moderator"));
  $("invited-heading").hidden = !shown;
  $("invited-list").hidden = !shown;
  if (!shown) {
    $("invited-list").replaceChildren();
    return;
  }
  const token = state.token;
  const invited = { roomId: conv.id, list: null, more: false };
  state.invited = invited;
  try {
    const answer = await rest("GET", pathOf("rooms", conv.id, "invitations"), undefined, token);
    if (state.invited !== invited) return; // another room, or signed out, meanwhile
    invited.list = answer.invitations;
    invited.more = answer.has_more;
    renderInvited();
  } catch (error) {
    if (state.token === token) showError(error);
  }
}

function renderInvited() {
  const invited = state.invited;
  if (!invited?.list) return;
  const items = invited.list.map((invitation) => {
    const item = el("li");
    item.dataset.key = `invitation:${invitation.id}`;
    const about = el("span", "hint", ["invited by ", nameOf(invitation.inviter_name)]);
    const revoking = actionButton("Revoke", "revoke", () => revoke(invitation));
    // Said with the button: "Revoke, carol, invited by bob", not "Revoke" ten times.
    item.id = `invited:${invitation.id}`;
    revoking.setAttribute("aria-describedby", item.id);
    item.append(nameOf(invitation.invitee_name), " ", about, " ", revoking);
    return item;
  });
  if (invited.more) items.push(el("li", "hint", "Older invitations are not listed."));
  fillList($("invited-list"), items, "No pending invitations.");
}

/** `revoke_invitation` (TCP.md §6), after a question in the page. Revoked, or refused
 * (accepted, declined or revoked elsewhere meanwhile: the server's words), the list
 * is asked for again. The invitee is not told. */
async function revoke(invitation) {
  const question = ["Revoke the invitation of ", named(invitation.invitee_name), "?"];
  const beside = () => tabStop($("invited-list")) ?? $("invite-name");
  if (!(await confirmAction(question, "Revoke", beside))) return;
  const response = await command("revoke_invitation", { invitation_id: invitation.id });
  if (response) showNotice(["The invitation of ", named(invitation.invitee_name), " is revoked."]);
  await loadInvited();
}

/** A room event: the member list shown, if it is that room's, follows it; an invitee
 * who joined is no longer pending. */
function memberEvent(event) {
  const invited = state.invited;
  if (event.type === "user_joined_room" && invited?.list && invited.roomId === event.room_id) {
    invited.list = invited.list.filter((inv) => inv.invitee_id !== event.user?.id);
    renderInvited();
  }
  const members = state.members;
  if (members?.roomId !== event.room_id) return;
  if (!members.byId) {
    members.pending.push(event);
  } else if (applyMemberEvent(members.byId, event)) {
    renderMembers();
  }
}

/** True when `event` changed the members held. */
function applyMemberEvent(byId, event) {
  switch (event.type) {
    case "user_joined_room": {
      const { id: user_id, username } = event.user;
      const role = event.membership?.role ?? "member";
      byId.set(user_id, { ...byId.get(user_id), user_id, username, role });
      return true;
    }
    case "user_left_room":
      return byId.delete(event.user_id);
    case "member_role_changed": {
      const member = byId.get(event.user_id);
      if (member) member.role = event.new_role;
      return Boolean(member);
    }
    default:
      return false;
  }
}

function renderMembers() {
  const members = state.members;
  if (!members?.byId) return;
  const roomId = members.roomId;
  const mine = state.roles.get(roomId);
  const items = [...members.byId.values()].map((member) => {
    const item = el("li");
    item.dataset.key = `member:${member.user_id}`;
    item.append(nameOf(member.username), el("span", "hint", member.role));
    const self = member.user_id === state.me.id;
    if (!self && (mine === "owner" || (mine === "moderator" && member.role === "member"))) {
      item.append(actionButton("Remove", "kick", () => kick(roomId, member)));
    }
    return item;
  });
  fillList($("member-list"), items, "No members.");
}

async function kick(roomId, member) {
  const question = ["Remove ", named(member.username), " from the room?"];
  const others = () => $("member-list").querySelector("button") ?? $("show-members");
  if (!(await confirmAction(question, "Remove", others))) return;
  try {
    // Done, the room's `user_left_room` takes the member off the list.
    const path = pathOf("rooms", roomId, "members", member.user_id);
    await rest("DELETE", path, undefined, state.token);
  } catch (error) {
    showError(error);
  }
}

function toggleMembers() {
  state.membersOpen = !state.membersOpen;
  renderConversationHead(state.active && conversation(state.active));
  loadMembers();
  loadInvited();
}

/** The users whose name holds `search` (`list_users`, its first page): the response, or
 * null when refused (shown). */
const findUsers = (search) => command("list_users", { filter: { search }, limit: LIST_LIMIT });

/** Invite by name: the name is looked up (`list_users` with `search`), then
 * `invite_to_room`, which the server allows any member of the room. */
async function invite(event) {
  event.preventDefault();
  const conv = state.active && conversation(state.active);
  const name = $("invite-name").value.trim();
  if (!conv || conv.kind !== "room" || !name) return;
  const found = await findUsers(name);
  if (!found) return;
  const user = found.users.find((u) => u.username.toLowerCase() === name.toLowerCase());
  if (!user) {
    showError(`No user named “${name}”.`);
    return;
  }
  const response = await command("invite_to_room", { room_id: conv.id, user_id: user.id });
  if (response) {
    $("invite-name").value = "";
    showNotice([named(user.username), " is invited."]);
    loadInvited();
  }
}

async function leave() {
  const conv = state.active && conversation(state.active);
  if (!conv || conv.kind !== "room") return;
  const response = await command("leave_room", { room_id: conv.id });
  if (response) {
    forgetRoom(conv.id);
    close();
    loadRooms();
  }
}

/** A room we are no longer in (left, removed, deleted): what was held for it goes, its
 * unread count too (the title would go on counting what no list shows). */
function forgetRoom(roomId) {
  const key = `room:${roomId}`;
  state.rooms.delete(roomId);
  state.roles.delete(roomId);
  state.conversations.delete(key);
  state.unread.delete(key);
  state.pins.delete(roomId);
  forgetMentions(key);
  notificationsRead(key);
}

async function createRoom(event) {
  event.preventDefault();
  const name = $("new-room-name").value;
  const description = $("new-room-description").value;
  const fields = { name };
  if (description.trim()) fields.description = description;
  if ($("new-room-private").checked) fields.settings = { public: false };
  const response = await command("create_room", fields);
  if (response) {
    $("new-room-name").value = "";
    $("new-room-description").value = "";
    $("new-room-private").checked = false;
    state.rooms.set(response.room.id, response.room);
    setRole(response.room.id, "owner");
    open(`room:${response.room.id}`);
  }
}

/** Over the protocol's bound: said in the server's own words, without the round trip
 * (or, past 1 MiB, the lost connection). */
function tooLong(content) {
  const size = utf8Length(content);
  if (size <= CONTENT_MAX_BYTES) return false;
  showError(`Content invalid: value too long: maximum ${CONTENT_MAX_BYTES}, got ${size}`);
  return true;
}

async function sendMessage() {
  const input = $("message-input");
  const content = input.value;
  const conv = state.active && conversation(state.active);
  if (!conv || !content.trim() || tooLong(content)) return;
  let response;
  try {
    response = await ask("send_message", { target: conv.target, content });
  } catch (error) {
    showError(error);
    return;
  }
  const unconfirmed = response.error?.details?.stored === "unknown";
  if (response.success) sent(conv, content, response.message);
  else if (unconfirmed) await settleUnconfirmed(conv, content, response.error.details.message_id);
  else showError(response.error);
}

/** Sent: no longer a draft, whether its conversation is still open or was left
 * meanwhile (its draft is then kept aside). */
function sent(conv, content, message) {
  const input = $("message-input");
  if (state.active === conv.key && input.value === content) input.value = "";
  if (state.drafts.get(conv.key) === content) state.drafts.delete(conv.key);
  received(message, state.me.username);
}

/** A send the server could neither confirm nor deny storing (`stored: "unknown"`,
 * docs/protocols/TCP.md "Storage faults"). Its history is final by then, so the newest
 * page says which: found, it is sent; not there, the draft stays to send again. Shown
 * as a bare "Internal error", it was sent again and could show twice. */
async function settleUnconfirmed(conv, content, messageId) {
  let page = [];
  let more = true;
  try {
    const response = await ask("get_messages", { target: conv.target, limit: UNCONFIRMED_PAGE });
    if (response.success) [page, more] = [response.messages, response.has_more];
  } catch {
    // The lookup failed as well: say it may be there.
  }
  const found = page.find((m) => m.id === messageId);
  if (found) sent(conv, content, found);
  else if (!more || olderThan(page.at(-1), messageId)) showError(NOT_STORED);
  else showError(MAYBE_STORED);
}

/** Whether `message` was created before the message `messageId` names, by the time in
 * the id (lairchat's message ids are UUIDv7: 48 bits of Unix milliseconds first);
 * false when either cannot say. */
function olderThan(message, messageId) {
  const created = Date.parse(message?.created_at ?? "");
  const minted = parseInt(String(messageId).replaceAll("-", "").slice(0, 12), 16);
  return String(messageId)[14] === "7" && created < minted - 1000;
}

function typed() {
  const conv = state.active && conversation(state.active);
  const now = Date.now();
  // Emptying the box is not typing.
  if (!conv || !state.connection?.ready || !$("message-input").value) return;
  // At most one per 3 s per conversation, as the server relays them (TCP.md).
  if (now - (state.lastTyping.get(conv.key) ?? -Infinity) < TYPING_EVERY_MS) return;
  state.lastTyping.set(conv.key, now);
  state.connection.send({ type: "typing", target: conv.target });
}

function stopTyping(key, userId) {
  const typers = state.typing.get(key);
  if (!typers?.has(userId)) return;
  clearTimeout(typers.get(userId));
  typers.delete(userId);
  if (key === state.active) renderTyping();
}

// -- loading lists -----------------------------------------------------------------------------

async function loadRooms() {
  const [joined, , invited] = await Promise.all([
    joinedRooms(),
    loadPublicRooms(state.paging.rooms.offset),
    command("list_invitations", {}),
  ]);
  if (joined) state.rooms = new Map(joined.map((it) => [it.room.id, it.room]));
  if (invited) state.invitations = invited.invitations;
  renderLists();
  if (state.active) renderConversationHead(conversation(state.active));
}

/** Every room we are in. Over REST, page by page: the protocol's `joined_only` listing
 * stops at the first 50. Null when refused (shown). */
async function joinedRooms() {
  const token = state.token;
  const rooms = [];
  try {
    for (let more = true; more; ) {
      const query = `joined_only=true&limit=${LIST_LIMIT}&offset=${rooms.length}`;
      const page = await rest("GET", `/rooms?${query}`, undefined, token);
      rooms.push(...page.rooms);
      more = page.has_more && page.rooms.length > 0;
    }
    return rooms;
  } catch (error) {
    if (state.token === token) showError(error);
    return null;
  }
}

/** The next page of a server list for its search: the response, or null when refused
 * (shown), already under way, or meanwhile replaced by another search. */
async function nextPage(type, paging) {
  if (paging.busy) return null;
  paging.busy = true;
  const fields = { limit: LIST_LIMIT, offset: paging.offset };
  if (paging.search) fields.filter = { search: paging.search };
  try {
    const response = await command(type, fields);
    if (!response || !Object.values(state.paging).includes(paging)) return null;
    paging.offset += (response.rooms ?? response.users).length;
    paging.hasMore = response.has_more;
    return response;
  } finally {
    paging.busy = false;
  }
}

/** The public rooms for the search, afresh: the first page, and as many more as had
 * been shown (rooms come and go, so they are asked for again). */
async function loadPublicRooms(shown = 0) {
  const paging = (state.paging.rooms = listing(state.paging.rooms.search));
  const found = new Map();
  do {
    const response = await nextPage("list_rooms", paging);
    if (!response) return;
    for (const it of response.rooms) found.set(it.room.id, it);
  } while (paging.hasMore && paging.offset < shown);
  state.publicRooms = found;
  renderRooms();
}

async function moreRooms() {
  const response = await nextPage("list_rooms", state.paging.rooms);
  if (!response) return;
  for (const it of response.rooms) state.publicRooms.set(it.room.id, it);
  renderRooms();
}

/** A page of people (the next one for the search); names are kept, not replaced. */
async function loadUsers() {
  const response = await nextPage("list_users", state.paging.people);
  if (!response) return;
  for (const user of response.users) state.users.set(user.id, user.username);
  state.online = new Set(response.online_user_ids);
  renderUsers();
}

/** A search typed: the list is filtered at once, the server asked a moment later. */
function searchTyped(name, reload) {
  const search = $(`${name === "rooms" ? "public" : "people"}-search`).value.trim();
  if (search === state.paging[name].search) return;
  state.paging[name] = listing(search);
  renderLists();
  clearTimeout(state.searchTimers[name]);
  state.searchTimers[name] = setTimeout(async () => {
    await reload();
    if (search && state.paging[name]?.search === search) announceFound(name);
  }, SEARCH_DELAY_MS);
}

/** What a search found, said once the server has answered: a screen reader in the
 * search field hears nothing of the list changing below it. */
function announceFound(name) {
  const list = $(name === "rooms" ? "public-list" : "user-list");
  const found = list.querySelectorAll("li:not(.empty)").length;
  const more = state.paging[name].hasMore ? " (more with More)" : "";
  const what = name === "rooms" ? "public room" : found === 1 ? "person" : "people";
  if (!found) say(list.textContent);
  else say(`${found} ${what}${name === "rooms" && found !== 1 ? "s" : ""} found${more}`);
}

async function loadUnread() {
  const token = state.token;
  const known = new Map([...state.mentions].map(([key, ids]) => [key, new Set(ids)]));
  try {
    const me = await rest("GET", "/users/me", undefined, token);
    if (state.token !== token) return;
    state.twoFactorOn = me.two_factor?.enabled === true;
    const counts = me.unread_counts ?? {};
    state.unread = new Map();
    for (const [id, n] of Object.entries(counts.by_room ?? {})) state.unread.set(`room:${id}`, n);
    for (const [id, n] of Object.entries(counts.by_dm ?? {})) state.unread.set(`dm:${id}`, n);
    seedMentions(counts.mentions, known);
    // Live mentions are kept while their conversation is still unread, dropped once
    // it was read (elsewhere, or before the drop).
    for (const key of state.mentions.keys()) {
      if (!state.unread.get(key)) state.mentions.delete(key);
    }
    renderLists();
  } catch (error) {
    if (state.token === token) showError(error);
  }
}

// -- the connection's life ---------------------------------------------------------------------

const ENDED = {
  account_banned: "Your account is banned.",
  session_expired: "Your session expired: please log in again.",
  token_expired: "Your session expired: please log in again.",
  session_not_found: "Your session ended (you logged out elsewhere?): please log in again.",
  invalid_token: "Your login is no longer valid: please log in again.",
  user_not_found: "Your account no longer exists.",
};

/** What the server says for `session_not_found` or `session_expired` when it gives no
 * reason (lairchat's and Lair Chat's texts). Any other message of those codes says why
 * the session ended ("Session ended: the password was changed") and is shown. */
const GENERIC_ENDED = new Set([
  "",
  "session_not_found",
  "session_expired",
  "Session not found or expired",
  "Session not found",
  "Session expired",
]);

/** Why the session ended, for the login form: the server's reason when it gave one,
 * else ours for the code (a key of ENDED). */
function endedText(code, message) {
  const reason = String(message ?? "").trim();
  const ended = code === "session_not_found" || code === "session_expired";
  return ended && !GENERIC_ENDED.has(reason) ? `${reason}. Please log in again.` : ENDED[code];
}

function connect() {
  clearTimeout(state.retryTimer);
  setStatus(state.retries ? "Reconnecting…" : "Connecting…");
  state.connection = new Connection(state.token, {
    authenticated,
    errorFrame,
    event: onEvent,
    dropped,
  });
}

async function authenticated(response) {
  if (!response.success) {
    const error = response.error ?? {};
    if (Object.hasOwn(ENDED, error.code)) {
      signOut(error.code, error.message);
    } else {
      // Not a verdict on the token (`internal_error`: the server failing for a moment):
      // keep it, say so, and try again with the usual back-off.
      showError({ code: "not_signed_in", message: `Could not sign in: ${describe(error)}` });
      state.connection.ws.close(1000);
    }
    return;
  }
  if (state.retries) say("Connected again.");
  state.retries = 0;
  state.me = response.user;
  const resumed = resumable?.userId === state.me.id ? resumable : null;
  resumable = null;
  if (resumed) state.drafts = resumed.drafts;
  state.roles = new Map(); // asked again when a room is opened: they may have changed
  // What the connection's loss left on screen is no longer true: the server's notice
  // (it was shutting down) and "not connected" errors.
  if ($("notice").dataset.server) hideBanner("notice");
  const stale = ["offline", "network", "not_signed_in"];
  if (stale.includes($("alert").dataset.code)) hideBanner("alert");
  showChat();
  setStatus("Connected");
  const connection = state.connection;
  state.paging.people = listing(state.paging.people.search); // from the first page again
  await Promise.all([loadRooms(), loadUsers(), loadUnread()]);
  if (state.connection !== connection) return; // signed out (or dropped) meanwhile
  // After a reconnect the history is fetched again: messages, edits, deletions and
  // reactions may have been missed, in the open conversation (now) and in every other
  // one held (when next opened; not only the open one, whose copy alone was renewed).
  for (const conv of state.conversations.values()) conv.loaded = false;
  state.pins = new Map(); // pinned and unpinned meanwhile: asked again when a room is opened
  state.pinsMissing = false; // the server may have been upgraded
  const wanted = state.active ?? sessionStorage.getItem(OPEN_KEY) ?? resumed?.active;
  if (wanted && (wanted.startsWith("dm:") || state.rooms.has(wanted.slice(5)))) {
    open(wanted);
  } else if (state.active) {
    close("You are no longer in that room."); // left or removed while disconnected
  } else {
    renderConversation();
  }
  offerLinkedJoin(); // a join link opened: offered now that someone is signed in
}

function errorFrame(frame) {
  if (Object.hasOwn(ENDED, frame.code)) {
    signOut(frame.code, frame.message);
  } else if (frame.code !== "timeout") {
    showError(frame);
  }
}

function dropped(event) {
  const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** state.retries);
  const jittered = Math.round(delay * (0.75 + Math.random() / 4));
  // Said once when the connection is lost, not at every attempt (the status line,
  // which counts them, is no live region: a long outage would keep a screen reader
  // saying "Reconnecting… Disconnected…").
  if (state.retries === 0) say("Disconnected from the server: reconnecting…");
  state.retries += 1;
  setStatus(`Disconnected (code ${event.code}): reconnecting in ${Math.ceil(jittered / 1000)} s…`);
  renderConversationHead(state.active && conversation(state.active));
  state.retryTimer = setTimeout(connect, jittered);
}

function start(token) {
  state.token = token;
  state.retries = 0;
  showChat();
  connect();
}

function forget() {
  clearTimeout(state.retryTimer);
  state.connection?.stop();
  Object.assign(state, {
    token: null,
    me: null,
    connection: null,
    active: null,
    rooms: new Map(),
    roles: new Map(),
    publicRooms: new Map(),
    paging: { rooms: listing(), people: listing() },
    invitations: [],
    users: new Map(),
    online: new Set(),
    unread: new Map(),
    mentions: new Map(),
    mentionSeeds: new Map(),
    conversations: new Map(),
    typing: new Map(),
    lastTyping: new Map(),
    drafts: new Map(),
    editing: null,
    membersOpen: false,
    members: null,
    invited: null,
    search: null,
    lookups: new Map(),
    pins: new Map(),
    pinsOpen: false,
    pinsMissing: false,
    twoFactorOn: false,
  });
  unsavedCodes = null;
  closePicker();
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(OPEN_KEY);
  for (const timer of Object.values(state.searchTimers)) clearTimeout(timer);
  // Nothing of this account stays on the page for the next one to see: not what was
  // typed, not the member list (hidden, still there), not the banners, which stay in
  // sight above the login form ("carol invited you to “…”").
  for (const form of ["create-room-form", "invite-form"]) $(form).reset();
  $("public-search").value = "";
  $("people-search").value = "";
  $("search-form").reset();
  $("message-input").value = "";
  $("member-list").replaceChildren();
  $("invited-list").replaceChildren();
  $("pin-list").replaceChildren();
  replaceText($("pins-note"), "");
  $("session-list").replaceChildren();
  forgetAdministration();
  // A question about the account's room, the password's or the deletion's form (whose
  // close empties its fields), its sessions: none stays open over the login form.
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  announcing.stop();
  stopNotifying();
  $("announcer").replaceChildren();
  for (const banner of ["notice", "alert"]) {
    $(banner).hidden = true;
    $(`${banner}-text`).replaceChildren();
  }
  clearTimeout(alertTimer);
  renderConversation();
  renderLists();
  renderSearch();
  replaceText($("me"), "");
  setStatus("");
}

/** What an account was doing when its session expired: the drafts and the open
 * conversation, kept in memory (never in storage) and given back only when the same
 * account signs in again on this page, so a half-written message survives logging in
 * again. Anyone else signing in drops it. A session ended on purpose (a logout
 * elsewhere, a password changed, a ban) keeps nothing. */
let resumable = null;
const EXPIRED = ["session_expired", "token_expired"];

/** Back to the login form, saying why the server ended the session (`code`, a key of
 * ENDED; `message`, the server's words, shown when they give a reason: endedText). */
function signOut(code, message) {
  resumable = null;
  if (state.me && EXPIRED.includes(code)) {
    const drafts = new Map(state.drafts);
    const typed = $("message-input").value;
    if (state.active && typed) drafts.set(state.active, typed);
    resumable = { userId: state.me.id, drafts, active: state.active };
  }
  forget();
  showLogin(endedText(code, message));
}

async function logout() {
  resumable = null; // logged out on purpose: nothing is kept for later
  const token = state.token;
  forget();
  showLogin("You are logged out.");
  try {
    await rest("POST", "/auth/logout", undefined, token);
  } catch (error) {
    // Refused for a token or session already ended: logged out indeed. Otherwise (the
    // server unreachable, failing, rate limiting) the session was not ended, and
    // whoever holds a copy of the token can still use it: the user is told (unless
    // signed in again meanwhile).
    if (Object.hasOwn(ENDED, error.code) || state.token) return;
    replaceText(
      $("login-reason"),
      `Logged out of this page, but the server could not be told (${describe(error)}):` +
        " the session stays valid until it expires.",
    );
  }
}

// -- the password ------------------------------------------------------------------------------

/** A form in a modal dialog (*Change password*, *Delete account*; the page behind it
 * inert): the focus in its field `first`, *Esc* or *Cancel* closing it. Its elements
 * are `${name}-dialog`, `-form`, `-error`, `-submit`. */
function openFormDialog(name, first) {
  if (document.querySelector("dialog[open]")) return;
  replaceText($(`${name}-error`), "");
  $(`${name}-dialog`).showModal();
  $(first).focus();
}

/** However the dialog `name` closes (done, cancelled, Esc, signed out), its fields are
 * emptied (no password stays on the page) and the focus goes back to `opener`: an
 * element's id, or a function giving the element (a list's button, which a redraw
 * replaces), when it is still shown. */
function formDialogClosed(name, opener) {
  $(`${name}-form`).reset();
  $(`${name}-submit`).disabled = false;
  focusOpener(typeof opener === "function" ? opener() : $(opener));
}

/** Whether the field `field` of the form dialog `name` holds `expected`, typed again to
 * confirm what cannot be undone (compared exactly, once trimmed; nothing is sent
 * otherwise). If not, the field is emptied and has the focus, and the dialog says
 * `prompt` (text, or parts with names: appendParts). */
function typedAgain(name, field, expected, prompt) {
  const typed = $(field);
  if (expected && typed.value.trim() === expected) return true;
  typed.value = "";
  replaceText($(`${name}-error`), prompt);
  typed.focus();
  return false;
}

/** Send the form dialog `name` (see openFormDialog): its fields emptied as the request
 * (`request(token)`) leaves, so that a password is then only in it, never in storage or
 * a log, unless `keep` (a form with nothing secret, such as a room's settings: refused,
 * what was typed is there to correct); `working` said meanwhile. True once the server
 * did it. A refusal is shown in the dialog in `refused(error)`'s words, the focus back
 * in its field `first` (in the error banner when the dialog was closed meanwhile); a
 * session gone signs out. */
async function sendForm(name, first, working, request, refused, keep = false) {
  if (!keep) $(`${name}-form`).reset();
  $(`${name}-submit`).disabled = true;
  replaceText($(`${name}-error`), working);
  const token = state.token;
  try {
    await request(token);
    return true;
  } catch (error) {
    if (state.token !== token) return false; // signed out meanwhile
    if (error.code === "stopped") return false; // cancelled here (the dialog closed)
    if (Object.hasOwn(ENDED, error.code)) {
      signOut(error.code, error.message);
      return false;
    }
    const refusal = refused(error);
    if (!$(`${name}-dialog`).open) {
      showError(refusal); // cancelled meanwhile: said all the same
      return false;
    }
    $(`${name}-submit`).disabled = false;
    replaceText($(`${name}-error`), refusal);
    $(first).focus();
    return false;
  }
}

/** `POST /auth/change-password`. The passwords are taken out of the fields as the
 * request leaves (they are then only in it, never in storage or a log); the server
 * ends every other session of the account and keeps this one, so the token and the
 * connection stay. A refusal is shown in the dialog in the server's words. */
async function changePassword(event) {
  event.preventDefault();
  const fresh = $("password-new");
  const again = $("password-again");
  if (fresh.value !== again.value) {
    fresh.value = again.value = "";
    replaceText($("password-error"), "The new password and its confirmation differ: type them again.");
    fresh.focus();
    return;
  }
  const body = { current_password: $("password-current").value, new_password: fresh.value };
  const token = state.token;
  const done = await sendForm(
    "password",
    "password-current",
    "Changing the password…",
    (sent) => rest("POST", "/auth/change-password", body, sent),
    (error) => `Password not changed: ${describe(error)}`,
  );
  if (!done || state.token !== token) return;
  $("password-dialog").close();
  showNotice("Password changed. Your other sessions have ended.");
}

// -- deleting the account ------------------------------------------------------------------------

/** *Delete account*: the dialog says what goes; the account's name is shown for the
 * confirmation (typed again, checked here, not sent). */
function openDeleteDialog() {
  replaceText($("delete-name"), state.me?.username ?? "");
  showCodeField("delete", state.twoFactorOn);
  openFormDialog("delete", "delete-password");
}

/** What the deletion's and the export's forms say when the server asks for the second
 * factor (`totp_required`: the password was right, and the account has it on). */
const CODE_NEEDED =
  "Two-factor sign-in is on: type your password again, and a code from your authenticator" +
  " app (or a recovery code).";

/** The code field of the form dialog `name` (`${name}-code-box`, `-code`): shown and
 * required while the account has two-factor sign-in on (deleting the account and
 * exporting its data then take a code too, as a login does), else hidden. */
function showCodeField(name, shown) {
  $(`${name}-code-box`).hidden = !shown;
  $(`${name}-code`).required = shown;
}

/** The body of the deletion's or the export's request: the password, and the code
 * (`totp`, as the login's) when its field is shown. */
function confirmBody(name) {
  const body = { password: $(`${name}-password`).value };
  if (!$(`${name}-code-box`).hidden) body.totp = $(`${name}-code`).value;
  return body;
}

/** Whether `error`, a refusal of that request, asks for the second factor
 * (`totp_required`: the account has it on, turned on elsewhere since the page last
 * asked): the code field is then shown, for the password and a code (CODE_NEEDED). */
function codeAsked(name, error) {
  if (error.code !== "totp_required") return false;
  state.twoFactorOn = true;
  showCodeField(name, true);
  return true;
}

/** `DELETE /users/me` with the password, taken out of its field as the request leaves.
 * Done, the account is gone with every session: back to the login form, nothing of it
 * kept (accountDeleted). The server closes this page's connection too, saying "Session
 * ended: the account was deleted", which may sign the page out before the answer comes;
 * the answer then says it was deleted all the same. A refusal (a wrong password, the
 * last admin, the rate limit, a lockout) is shown in the dialog in the server's words. */
async function deleteAccount(event) {
  event.preventDefault();
  const name = state.me?.username;
  const prompt = `Type your username, ${name ?? ""}, to confirm.`;
  if (!typedAgain("delete", "delete-username", name, prompt)) return;
  const body = confirmBody("delete");
  const token = state.token;
  const done = await sendForm(
    "delete",
    "delete-password",
    "Deleting the account…",
    (sent) => rest("DELETE", "/users/me", body, sent),
    (error) =>
      `Account not deleted: ${
        codeAsked("delete", error)
          ? CODE_NEEDED
          : routeMissing(error)
            ? NO_DELETION
            : describe(error)
      }`,
  );
  // Not if someone signed in again meanwhile (signed out first by the close notice).
  if (done && (state.token === token || state.token === null)) accountDeleted();
}

/** The account is gone: the page forgets it (the token and the open conversation in
 * sessionStorage, drafts), and the desktop notifications setting, the one thing kept in
 * localStorage, goes too: nothing the account did stays in this browser. */
function accountDeleted() {
  resumable = null;
  forget();
  saveNotifySetting(false);
  renderNotifySetting();
  showLogin("Your account was deleted.");
}

// -- downloading one's data ---------------------------------------------------------------------

/** What a server without the data export (the original, an older lairchat) is said to
 * have. */
const NO_EXPORT = "This server cannot export your data.";
/** How a whole export ends: its last key (docs/protocols/HTTP.md). A server stopped
 * midway ends the body without it; whitespace may follow. */
const EXPORT_END = /"complete"\s*:\s*true\s*}\s*$/;
/** The bytes of the body's end read to find EXPORT_END. */
const EXPORT_TAIL = 64;
/** How long a saved file's object URL is kept: the browser reads it after the click. */
const SAVED_URL_MS = 60_000;

/** The download under way (its AbortController), aborted when the dialog closes. */
let exporting = null;

/** *Download my data*: the dialog says what the file holds and asks for the password. */
function openExportDialog() {
  replaceText($("export-progress"), "");
  showCodeField("export", state.twoFactorOn);
  openFormDialog("export", "export-password");
}

/** The export dialog closed (done, cancelled, Esc, signed out): a download under way
 * stops (the server stops reading the database when the connection goes). */
function exportDialogClosed() {
  exporting?.abort();
  exporting = null;
  replaceText($("export-progress"), "");
  formDialogClosed("export", "download-data");
}

/** `bytes` in the reader's words: "812 bytes", "1.4 MB". */
function sizeText(bytes) {
  const [unit, size] =
    bytes < 1_000
      ? ["byte", bytes]
      : bytes < 1_000_000
        ? ["kilobyte", bytes / 1_000]
        : ["megabyte", bytes / 1_000_000];
  return new Intl.NumberFormat(undefined, {
    style: "unit",
    unit,
    unitDisplay: "long",
    maximumFractionDigits: 1,
  }).format(size);
}

/** The file's name: the server's (`Content-Disposition: attachment;
 * filename="lairchat-export-alice-2026-12-07.json"`) when it is a plain one, else made
 * here as the server makes it from `username` (ASCII letters, digits, `.`, `_` and `-`
 * kept, anything else `_`, no leading dot) and `today` (a Date), in UTC. */
function exportFileName(disposition, username, today) {
  const given = /;\s*filename="([A-Za-z0-9][A-Za-z0-9._-]{0,200})"/i.exec(disposition ?? "");
  if (given) return given[1];
  const safe = String(username ?? "").replace(/[^A-Za-z0-9._-]/gu, "_").replace(/^\.+/, "");
  return `lairchat-export-${safe || "user"}-${today.toISOString().slice(0, 10)}.json`;
}

/** Hand `blob` to the browser as a download named `name`. */
function saveFile(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = el("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), SAVED_URL_MS);
}

/** `POST /users/me/export` with `body` (the password), aborted by `signal`. The body is
 * read as it comes, never parsed and never made one string (a long history is hundreds
 * of megabytes), `progress(bytes)` told as it grows; only a whole export (EXPORT_END)
 * is saved, in the file the server names. Returns the file's name and size; throws
 * the ServerError of fetchApi, or `export_cut_off` for a body that stopped short
 * (the connection broken, or the server stopped, midway). */
async function downloadExport(body, token, signal, progress) {
  const response = await fetchApi("POST", "/users/me/export", body, token, signal);
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      chunks.push(read.value);
      size += read.value.length;
      progress(size);
    }
  } catch {
    if (signal.aborted) throw new ServerError({ code: "stopped", message: "Stopped." });
    chunks.length = 0; // nothing of a broken export is kept
  }
  const file = new Blob(chunks, { type: "application/json" });
  if (!EXPORT_END.test(await file.slice(-EXPORT_TAIL).text())) {
    throw new ServerError({
      code: "export_cut_off",
      message: "The export was cut off before its end, so nothing was saved. Try again.",
    });
  }
  const name = exportFileName(
    response.headers.get("Content-Disposition"),
    state.me?.username,
    new Date(),
  );
  saveFile(file, name);
  return { name, size };
}

/** Send the export dialog: the password taken out of its field as the request leaves,
 * the bytes received shown as they come, the file saved when whole. Done, the dialog
 * closes and a notice names the file; a refusal (a wrong password, counted by the
 * login's lockout; the rate limit; an export already under way; a cut-off export; a
 * server without the route) is shown in the dialog. */
async function exportData(event) {
  event.preventDefault();
  const body = confirmBody("export");
  const token = state.token;
  replaceText($("export-progress"), "");
  exporting?.abort();
  const controller = new AbortController();
  exporting = controller;
  let saved = null;
  const done = await sendForm(
    "export",
    "export-password",
    "Preparing your data…",
    async (sent) => {
      saved = await downloadExport(body, sent, controller.signal, (bytes) =>
        replaceText($("export-progress"), `${sizeText(bytes)} received`),
      );
    },
    (error) =>
      `Data not downloaded: ${
        codeAsked("export", error) ? CODE_NEEDED : lacksRoute(error) ? NO_EXPORT : describe(error)
      }`,
  );
  if (exporting === controller) exporting = null;
  if (!done || state.token !== token) return;
  $("export-dialog").close();
  showNotice(`Your data is downloaded: ${saved.name} (${sizeText(saved.size)}).`);
}

// -- two-factor sign-in ------------------------------------------------------------------------

/** What the login form says when the server asks for the second factor, and after a
 * refused code (the server's words first). */
const CODE_ASKED =
  "Two-factor sign-in: type the code your authenticator app shows (or a recovery code).";
const CODE_AGAIN = "A code is good once: type the one your app shows now, or a recovery code.";
/** What a server without two-factor sign-in (the original Lair Chat, an older lairchat)
 * is said to lack. */
const NO_TWO_FACTOR = "This server does not offer two-factor sign-in.";
const OTHERS_END = "Turning it on or off ends your other sessions; this one stays signed in.";
const OTHERS_ENDED = "Your other sessions have ended; this one stays signed in.";
/** An otpauth URI, the only kind of link the dialog makes of the server's text. */
const OTPAUTH = /^otpauth:\/\//i;

/** What the dialog says above recovery codes just replaced (not just turned on). */
const CODES_RENEWED = "New recovery codes: the ones you had no longer work.";
/** Said when the dialog closes while recovery codes not yet confirmed stored are shown. */
const CODES_KEPT =
  "Your recovery codes are kept on this page until you confirm you stored them:" +
  " open Two-factor sign-in again.";

/** What *Two-factor sign-in* shows: `phase` is `loading`, `off`, `setup` (a secret
 * shown, not in force until a code turns it on), `codes` (just turned on, or new ones
 * asked for (`renewed`): the recovery codes, shown this once), `on`, `missing` (a
 * server without it) or `failed` (not read); `left`, the recovery codes left;
 * `secret`, `uri` and `codes` the server's. Forgotten when the dialog closes, but for
 * recovery codes not yet confirmed stored (unsavedCodes). */
let twoFactor = { phase: "loading" };

/** Recovery codes shown and not yet confirmed stored (*I have stored them*): the
 * `codes` phase, kept when the dialog closes (Esc, *Close*) and shown again when it
 * opens, so that closing it by mistake does not lose them for good; forgotten once
 * confirmed, and at sign-out (forget). */
let unsavedCodes = null;

/** The account's two-factor state from `GET /users/me`'s answer: `off` or `on` (with
 * the recovery codes left), `missing` when the answer has no `two_factor` (a server
 * without it). */
function twoFactorStatus(answer) {
  const status = answer?.two_factor;
  if (typeof status?.enabled !== "boolean") return { phase: "missing" };
  if (!status.enabled) return { phase: "off" };
  const left = Number.isInteger(status.recovery_codes_left) ? status.recovery_codes_left : null;
  return { phase: "on", left };
}

/** What the dialog shows in `tf`'s phase: the state line, which parts (the secret, the
 * recovery codes, the form and its password and code fields, the recovery toggle), the
 * submit button's words, and where the focus goes once it is shown (`first`). */
function twoFactorView(tf) {
  const view = { state: "", secret: false, codes: false, form: false, submit: "" };
  const form = (submit, first, fields) => ({ ...view, form: true, submit, first, ...fields });
  const left =
    tf.left == null ? "" : ` ${tf.left} recovery code${tf.left === 1 ? "" : "s"} left.`;
  switch (tf.phase) {
    case "loading":
      return { ...view, state: "Asking the server…" };
    case "off":
      return {
        ...form("Set up", "twofactor-password", { password: true }),
        state: "Two-factor sign-in is off. To set it up, type your password.",
      };
    case "setup":
      return {
        ...form("Turn on", "twofactor-secret-intro", { code: true }),
        secret: true,
        state: `Set up, not on yet. ${OTHERS_END}`,
      };
    case "codes":
      return {
        ...view,
        codes: true,
        state: tf.renewed ? CODES_RENEWED : `Two-factor sign-in is on. ${OTHERS_ENDED}`,
      };
    case "on":
      return {
        ...form("Turn off", "twofactor-password", { password: true, code: true, recovery: true }),
        renew: true,
        state:
          `Two-factor sign-in is on.${left} To turn it off, or for new recovery codes, type` +
          ` your password and a code. ${OTHERS_END}`,
      };
    case "missing":
      return { ...view, state: NO_TWO_FACTOR };
    default:
      return view;
  }
}

/** The dialog drawn from `twoFactor`. The server's secret and codes are text. */
function renderTwoFactor() {
  const view = twoFactorView(twoFactor);
  replaceText($("twofactor-state"), view.state);
  $("twofactor-secret").hidden = !view.secret;
  replaceText($("twofactor-key"), view.secret ? String(twoFactor.secret ?? "") : "");
  const uri = view.secret ? String(twoFactor.uri ?? "") : "";
  $("twofactor-uri").value = uri;
  $("twofactor-link").hidden = !OTPAUTH.test(uri);
  $("twofactor-link").href = OTPAUTH.test(uri) ? uri : "#";
  $("twofactor-codes").hidden = !view.codes;
  const codes = view.codes ? twoFactor.codes : [];
  $("twofactor-code-list").replaceChildren(...codes.map((code) => el("li", "", code)));
  $("twofactor-form").hidden = !view.form;
  for (const [part, shown] of [["password", view.password], ["code", view.code]]) {
    $(`twofactor-${part}-box`).hidden = !shown;
    $(`twofactor-${part}`).required = Boolean(shown);
  }
  $("twofactor-recovery").hidden = !view.recovery;
  $("twofactor-renew").hidden = !view.renew;
  if (!view.recovery) {
    codeKind("twofactor-code", "twofactor-code-label", "twofactor-recovery", false);
  }
  replaceText($("twofactor-submit"), view.submit);
}

/** *Two-factor sign-in*, in the account's menu: a modal dialog as *Sessions* is (the
 * focus in it, Esc or *Close* closing it, the focus back on the button), its state
 * asked of the server (`GET /users/me`) each time it opens. */
function openTwoFactorDialog() {
  if (document.querySelector("dialog[open]")) return;
  twoFactor = unsavedCodes ?? { phase: "loading" };
  replaceText($("twofactor-error"), "");
  replaceText($("twofactor-copied"), "");
  renderTwoFactor();
  $("twofactor-dialog").showModal();
  if (unsavedCodes) {
    $("twofactor-codes-intro").focus();
    return;
  }
  $("twofactor-close").focus();
  loadTwoFactor();
}

/** The dialog closed (*Close*, Esc, a sign-out): the secret leaves the page, and the
 * recovery codes unless they are not confirmed stored yet (unsavedCodes: said so); the
 * fields are emptied, the focus goes back. */
function twoFactorDialogClosed() {
  const kept = Boolean(unsavedCodes && state.token);
  if (!state.token) unsavedCodes = null;
  twoFactor = { phase: "loading" };
  renderTwoFactor();
  formDialogClosed("twofactor", "two-factor");
  if (kept) showNotice(CODES_KEPT);
}

/** *I have stored them*: the recovery codes shown leave the page, and the dialog asks
 * the server again (the codes left). */
function codesStored() {
  unsavedCodes = null;
  twoFactor = { phase: "loading" };
  replaceText($("twofactor-copied"), "");
  renderTwoFactor();
  $("twofactor-close").focus();
  loadTwoFactor();
}

/** The state asked of the server; once shown, the focus goes to its first field unless
 * the user moved it meanwhile. A refusal is said in the dialog's alert line. */
async function loadTwoFactor() {
  const token = state.token;
  try {
    const answer = await rest("GET", "/users/me", undefined, token);
    if (state.token !== token || !$("twofactor-dialog").open) return;
    twoFactor = twoFactorStatus(answer);
    state.twoFactorOn = twoFactor.phase === "on";
  } catch (error) {
    if (state.token !== token || !$("twofactor-dialog").open) return;
    twoFactor = { phase: "failed" };
    showRefusal("twofactor-error", error, "Two-factor sign-in not read");
  }
  renderTwoFactor();
  const first = twoFactorView(twoFactor).first;
  if (first && document.activeElement === $("twofactor-close")) $(first).focus();
}

/** A refusal of the dialog's request, in the server's words after `what`. A server
 * without the routes says so (and the form goes); one whose state changed meanwhile (in
 * another tab: `totp_already_enabled`, `totp_not_set_up`, `totp_not_enabled`) is asked
 * again. */
function twoFactorRefused(error, what) {
  if (lacksRoute(error)) {
    twoFactor = { phase: "missing" };
    renderTwoFactor();
    return NO_TWO_FACTOR;
  }
  if (/^totp_(already_enabled|not_set_up|not_enabled)$/.test(error.code)) loadTwoFactor();
  return `${what}: ${describe(error)}`;
}

/** The dialog's form, sent for its phase: `setup` with the password (then the secret is
 * shown), `enable` with a code (then the recovery codes, once), `disable` with the
 * password and a code or recovery code, or, sent by *New recovery codes*,
 * `recovery-codes` with the same (then the new codes, once). The fields are emptied as
 * the request leaves (sendForm); turning it on or off ends the other sessions, which
 * is said. */
async function sendTwoFactor(event) {
  event.preventDefault();
  const renew = event.submitter?.id === "twofactor-renew";
  const phase = renew && twoFactor.phase === "on" ? "renew" : twoFactor.phase;
  const password = $("twofactor-password").value;
  const code = $("twofactor-code").value;
  const token = state.token;
  const step = {
    off: ["setup", { password }, "twofactor-password", "Asking for a secret…", "Not set up"],
    setup: ["enable", { code }, "twofactor-code", "Turning it on…", "Not turned on"],
    on: ["disable", { password, code }, "twofactor-password", "Turning it off…", "Not turned off"],
    renew: [
      "recovery-codes",
      { password, code },
      "twofactor-password",
      "Asking for new recovery codes…",
      "No new recovery codes",
    ],
  }[phase];
  if (!step) return;
  const [route, body, first, working, what] = step;
  let answer = null;
  $("twofactor-renew").disabled = true;
  const done = await sendForm(
    "twofactor",
    first,
    working,
    async (sent) => {
      answer = await rest("POST", pathOf("users", "me", "2fa", route), body, sent);
    },
    (error) => twoFactorRefused(error, what),
  );
  $("twofactor-renew").disabled = false;
  // The form gone with the routes (a server without them): the focus on *Close*.
  if (!done && twoFactor.phase === "missing") $("twofactor-close").focus();
  if (!done || state.token !== token || !$("twofactor-dialog").open) return;
  $("twofactor-submit").disabled = false; // the dialog stays open for the next step
  replaceText($("twofactor-error"), "");
  if (route === "setup") {
    twoFactor = { phase: "setup", secret: answer?.secret, uri: answer?.otpauth_uri };
  } else if (route === "enable" || route === "recovery-codes") {
    const codes = Array.isArray(answer?.recovery_codes) ? answer.recovery_codes.map(String) : [];
    twoFactor = { phase: "codes", codes, renewed: route === "recovery-codes" };
    unsavedCodes = twoFactor;
    state.twoFactorOn = true;
    if (route === "enable") showNotice(`Two-factor sign-in is on. ${OTHERS_ENDED}`);
  } else {
    twoFactor = { phase: "off" };
    state.twoFactorOn = false;
    showNotice(`Two-factor sign-in is off. ${OTHERS_ENDED}`);
  }
  renderTwoFactor();
  const focus = {
    setup: "twofactor-secret-intro",
    enable: "twofactor-codes-intro",
    "recovery-codes": "twofactor-codes-intro",
  };
  $(focus[route] ?? "twofactor-state").focus();
}

/** The recovery codes as a file's text: whose they are and where, and what they do. */
function recoveryText(username, host, codes) {
  return [
    `lairchat recovery codes for ${username} on ${host}`,
    "Each signs in once instead of a code from your authenticator app.",
    "",
    ...codes,
    "",
  ].join("\n");
}

/** Put `text` on the clipboard and say so in the line `line` (`what`: "the URI");
 * where the browser does not allow it (a page over plain http from another machine has
 * no clipboard), `node` (a field, or the list) is selected for the user to copy, and
 * that is said. */
async function copyText(text, node, what, line = "twofactor-copied") {
  try {
    await navigator.clipboard.writeText(text);
    replaceText($(line), `Copied: ${what}.`);
  } catch {
    if (node.select) {
      node.focus();
      node.select();
    } else {
      window.getSelection().selectAllChildren(node);
    }
    replaceText(
      $(line),
      `Not copied (the browser did not allow it). Selected instead, to copy yourself: ${what}.`,
    );
  }
}

function wireTwoFactor() {
  $("two-factor").addEventListener("click", openTwoFactorDialog);
  $("twofactor-form").addEventListener("submit", sendTwoFactor);
  $("twofactor-close").addEventListener("click", () => $("twofactor-dialog").close());
  $("twofactor-dialog").addEventListener("close", twoFactorDialogClosed);
  const toggle = (field, label, button) => () => {
    codeKind(field, label, button, !$(field).dataset.recovery);
    $(field).focus();
  };
  $("login-recovery").addEventListener(
    "click",
    toggle("login-code", "login-code-label", "login-recovery"),
  );
  $("twofactor-recovery").addEventListener(
    "click",
    toggle("twofactor-code", "twofactor-code-label", "twofactor-recovery"),
  );
  $("twofactor-copy-uri").addEventListener("click", () =>
    copyText($("twofactor-uri").value, $("twofactor-uri"), "the URI"),
  );
  $("twofactor-copy-codes").addEventListener("click", () =>
    copyText(twoFactor.codes?.join("\n") ?? "", $("twofactor-code-list"), "the recovery codes"),
  );
  $("twofactor-codes-stored").addEventListener("click", codesStored);
  $("twofactor-download-codes").addEventListener("click", () => {
    const text = recoveryText(state.me?.username ?? "", location.host, twoFactor.codes ?? []);
    saveFile(new Blob([text], { type: "text/plain" }), "lairchat-recovery-codes.txt");
    replaceText($("twofactor-copied"), "The codes are downloaded: lairchat-recovery-codes.txt.");
  });
}

// -- sessions ----------------------------------------------------------------------------------

/** When a session began or ends, in the reader's time. */
function whenText(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "?";
  return when.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

/** *Sessions*: where the account is signed in (every login makes a session, in any
 * browser or client), from `GET /auth/sessions`, each with *End session*. A modal
 * dialog as *Change password* is: the focus in it, Esc or *Close* closing it, the
 * focus then back on the button. */
function openSessionsDialog() {
  if (document.querySelector("dialog[open]")) return;
  replaceText($("sessions-error"), "");
  replaceText($("sessions-status"), "");
  $("session-list").replaceChildren(el("li", "empty", "Loading…"));
  $("sessions-dialog").showModal();
  $("sessions-close").focus();
  loadSessions();
}

function sessionsDialogClosed() {
  $("session-list").replaceChildren();
  focusOpener($("show-sessions"));
}

/** A refusal of a request made from a dialog or panel: a session of ours gone signs
 * the page out; any other is shown in its line `line` (`role="alert"`), in the
 * server's words, after `what`. */
function showRefusal(line, error, what) {
  if (Object.hasOwn(ENDED, error.code)) signOut(error.code, error.message);
  else replaceText($(line), `${what}: ${describe(error)}`);
}

/** What *Sessions* says of one: when it signed in, was last used and expires, and from
 * where (the address and User-Agent of the client that signed in; lairchat lists them,
 * a TCP login has no User-Agent). Shown as text, whatever a User-Agent holds. */
function sessionText(session) {
  const parts = [`Signed in ${whenText(session.created_at)}`];
  if (session.last_active_at) parts.push(`last used ${whenText(session.last_active_at)}`);
  parts.push(`expires ${whenText(session.expires_at)}`);
  const from = [session.ip_address, session.user_agent].filter((x) => typeof x === "string" && x);
  if (from.length) parts.push(`from ${from.join(" · ")}`);
  return parts.join(", ");
}

async function loadSessions() {
  const token = state.token;
  try {
    const answer = await rest("GET", "/auth/sessions", undefined, token);
    if (state.token !== token || !$("sessions-dialog").open) return;
    const items = answer.sessions.map((session) => {
      const item = el("li");
      item.dataset.key = `session:${session.id}`;
      item.id = `session:${session.id}`;
      item.append(el("span", "", sessionText(session)));
      if (session.current) item.append(" ", el("strong", "this-one", "(this one)"));
      const end = actionButton("End session", "end-session", () => endSession(session));
      end.setAttribute("aria-describedby", item.id); // which one, said with the button
      item.append(" ", end);
      return item;
    });
    if (answer.has_more) items.push(el("li", "hint", "Older sessions are not listed."));
    fillList($("session-list"), items, "No live sessions.");
  } catch (error) {
    if (state.token !== token) return;
    $("session-list").replaceChildren();
    showRefusal("sessions-error", error, "Sessions not listed");
  }
}

/** `DELETE /auth/sessions/{id}`, after a question: that session's tokens stop working
 * and its connections close, the others stay. Ending this page's own is its logout.
 * One ended meanwhile is `not_found` (the server's words), and the list is asked again. */
async function endSession(session) {
  const question = session.current
    ? "End this session? This page is logged out."
    : "End that session? Whoever uses it is signed out at once.";
  const beside = () => tabStop($("session-list")) ?? $("sessions-close");
  if (!(await confirmAction(question, "End session", beside))) return;
  const token = state.token;
  replaceText($("sessions-error"), "");
  try {
    await rest("DELETE", pathOf("auth", "sessions", session.id), undefined, token);
  } catch (error) {
    if (state.token !== token) return;
    showRefusal("sessions-error", error, "Session not ended");
    if ($("sessions-dialog").open) loadSessions();
    return;
  }
  if (state.token !== token) return;
  if (session.current) {
    resumable = null; // logged out on purpose
    forget();
    showLogin("You ended this session: you are logged out.");
    return;
  }
  replaceText($("sessions-status"), "Session ended.");
  await loadSessions();
}

// -- room settings and deletion ----------------------------------------------------------------

/** Whether a room role may change the room (its owners and moderators; the server
 * decides all the same, and its refusal is shown). */
const moderates = (role) => role === "owner" || role === "moderator";

/** The room *Room settings* was opened for, as it was then: what the form changes is
 * what differs from it (a change another moderator makes meanwhile is not undone). */
let roomEditing = null;
/** What *Delete room* would delete: `{ room, admin, back }`, `admin` for the admin
 * route, `back()` the element the focus goes back to when the dialog closes. */
let roomDeleting = null;
/** The rooms seen deleted (the answer to our own deletion, or their `room_deleted`,
 * whichever came first): the other one changes nothing more, nor says it again. */
let roomsGone = new Set();

/** *Room settings* (in the open room's head, for its owners and moderators): its name,
 * description, privacy and member limit as held (`room_updated` keeps them current),
 * and, for its owners and its creator, *Delete room…*. */
function openRoomDialog() {
  const conv = state.active && conversation(state.active);
  const room = conv?.kind === "room" ? state.rooms.get(conv.id) : undefined;
  if (!room) return;
  roomEditing = room;
  const settings = room.settings ?? {};
  replaceText($("room-title"), ["Room settings: ", nameOf(room.name)]);
  $("room-name").value = room.name;
  $("room-description").value = settings.description ?? "";
  $("room-private").checked = settings.is_private === true;
  $("room-limit").value = settings.max_members ?? "";
  const owner = state.roles.get(room.id) === "owner" || room.owner === state.me?.id;
  $("room-delete-open").hidden = !owner;
  openFormDialog("room", "room-name");
  inviteCodesFor(room.id);
}

/** The `PATCH /rooms/{id}` body for what the settings form holds (`form`: `name`,
 * `description`, `private`, `limit` as typed) against `room` as held: the name and the
 * description when they changed, and the settings, whole, when one of them did (the
 * server replaces them all: a `max_members` left out would become "no limit"; and
 * sent unchanged, they would undo another moderator's change made meanwhile). Null
 * when nothing changed; a string saying what is wrong when the limit is no number. */
function roomChanges(room, form) {
  const typed = String(form.limit).trim();
  const limit = typed === "" ? null : Number(typed);
  if (limit !== null && !(Number.isSafeInteger(limit) && limit >= 0)) {
    return "The member limit is a whole number, 0 or more (empty: no limit).";
  }
  const old = room.settings ?? {};
  const body = {};
  const name = form.name.trim();
  if (name !== room.name) body.name = name;
  if (form.description !== (old.description ?? "")) body.description = form.description;
  if (form.private !== (old.is_private === true) || limit !== (old.max_members ?? null)) {
    body.settings = { public: !form.private, max_members: limit };
  }
  return Object.keys(body).length ? body : null;
}

/** *Save*: `PATCH /rooms/{id}` with what changed (roomChanges). Done, the room is held
 * as the server answered (its `room_updated` follows, for every member) and the dialog
 * closes; refused (`Permission denied` for a plain member, `Room name taken`, a
 * description too long), the server's words are shown in it, what was typed kept. */
async function saveRoom(event) {
  event.preventDefault();
  const room = roomEditing;
  if (!room || !state.rooms.has(room.id)) {
    $("room-dialog").close();
    return;
  }
  const body = roomChanges(room, {
    name: $("room-name").value,
    description: $("room-description").value,
    private: $("room-private").checked,
    limit: $("room-limit").value,
  });
  if (typeof body === "string") {
    replaceText($("room-error"), body);
    $("room-limit").focus();
    return;
  }
  if (!body) {
    $("room-dialog").close();
    return;
  }
  const token = state.token;
  let saved = null;
  const done = await sendForm(
    "room",
    "room-name",
    "Saving the room…",
    async (sent) => {
      saved = (await rest("PATCH", pathOf("rooms", room.id), body, sent))?.room;
    },
    (error) => `Room not changed: ${describe(error)}`,
    true,
  );
  if (!done || state.token !== token) return;
  roomChanged(saved);
  $("room-dialog").close();
  showNotice("Room settings saved.");
}

/** A room as it is now (our change's answer, or its `room_updated`): held, and shown in
 * the lists and the head. */
function roomChanged(room) {
  if (!room?.id || !state.rooms.has(room.id)) return;
  state.rooms.set(room.id, room);
  listsChanged();
  if (state.active === `room:${room.id}`) renderConversationHead(conversation(state.active));
}

/** Where the focus goes when a room's dialog closes: back on *Room settings*, or, with
 * that gone (the room deleted, our role there taken away meanwhile), in the message
 * box, else the room list: not to nowhere. */
const backToRoom = () =>
  [$("room-settings"), $("message-input"), $("room-list").querySelector("button")].find(
    (node) => node && displayed(node) && !node.disabled,
  ) ?? $("new-room-name");

/** *Delete room…* in the settings: they close (the focus back on *Room settings*),
 * then *Delete room* opens; one modal at a time. */
function deleteFromSettings() {
  const room = roomEditing;
  const dialog = $("room-dialog");
  if (!room) return;
  const next = () => openRoomDelete(room, false, backToRoom);
  dialog.addEventListener("close", next, { once: true });
  dialog.close();
}

/** *Delete room*, for `room` (`{id, name}`): its name typed again (checked here, not
 * sent). `admin`: by the admin route; `back()`: where the focus goes when it closes. */
function openRoomDelete(room, admin, back) {
  roomDeleting = { room, admin, back };
  replaceText($("room-delete-shown"), room.name);
  openFormDialog("room-delete", "room-delete-name");
}

/** `DELETE /rooms/{id}` (its owners and creator) or `DELETE /admin/rooms/{id}`, once
 * the name typed matches. Done, the room is closed and forgotten (roomDeleted); refused,
 * the server's words are shown in the dialog. */
async function deleteRoom(event) {
  event.preventDefault();
  const target = roomDeleting;
  if (!target) return;
  const { room, admin: byAdmin } = target;
  const prompt = ["Type the room's name, ", named(room.name), ", to confirm."];
  if (!typedAgain("room-delete", "room-delete-name", room.name, prompt)) return;
  const path = byAdmin ? pathOf("admin", "rooms", room.id) : pathOf("rooms", room.id);
  const token = state.token;
  const done = await sendForm(
    "room-delete",
    "room-delete-name",
    "Deleting the room…",
    (sent) => rest("DELETE", path, undefined, sent),
    (error) => `Room not deleted: ${describe(error)}`,
  );
  if (!done || state.token !== token) return;
  $("room-delete-dialog").close();
  roomDeleted(room.id, room.name);
  if (byAdmin) adminActed();
}

/** A room gone, by our deletion or its `room_deleted` (whichever comes first; the other
 * then does nothing): closed if it was open, forgotten, said in a notice; its dialogs
 * and its line in *Administration* go too. */
function roomDeleted(roomId, name) {
  if (roomsGone.has(roomId)) return;
  roomsGone.add(roomId);
  forgetRoom(roomId);
  if (state.active === `room:${roomId}`) close();
  if (roomEditing?.id === roomId && $("room-dialog").open) $("room-dialog").close();
  if (roomDeleting?.room.id === roomId && $("room-delete-dialog").open) {
    $("room-delete-dialog").close();
  }
  if (administration.rooms.some((it) => it.room.id === roomId)) {
    administration.rooms = administration.rooms.filter((it) => it.room.id !== roomId);
    renderAdminRooms();
  }
  showNotice(["The room “", named(name), "” was deleted."]);
  loadRooms();
}

// -- invite codes ------------------------------------------------------------------------------

/** What a server without invite codes (the original Lair Chat, an older lairchat: a
 * bare 404 or 405, or `not_found`) is said to have. */
const NO_INVITE_CODES = "This server does not offer invite codes.";
/** Said after the server's one refusal of every bad code (`invite_code_not_found`):
 * it tells none of these apart, on purpose (docs/protocols/HTTP.md, "Invite codes"). */
const CODE_REFUSED =
  "A code mistyped, expired, used up, revoked or of a deleted room is refused the same way.";
/** What the page takes for a code (the server's own shape, lairchat/domain/invitecodes.py:
 * it makes 22 of these characters): anything else is said here, never put in a path. */
const CODE_SHAPE = /^[A-Za-z0-9_-]{1,64}$/;
/** A join link's fragment, `#join=CODE`: a fragment never leaves the browser, so the
 * code is in no request line nor any server's or proxy's log. */
const JOIN_FRAGMENT = /^#join=(.*)$/s;

/** The *Invite codes* section of *Room settings*: the room it is for, its live codes
 * (null until the server answered), the code just made (shown only until the dialog
 * closes: the server keeps no copy), the server having no such routes, and how many
 * times the list was asked for (only the latest answer counts). */
const inviteCodesView = (roomId = null) => ({
  roomId,
  list: null,
  made: null,
  missing: false,
  asked: 0,
});
let inviteCodes = inviteCodesView();

/** The body of `POST /rooms/{id}/invite-codes` from the fields as typed: each left out
 * when empty (the server's defaults: no use limit, a week); a string saying what is
 * wrong when one is no whole number. The bounds are the server's to say, in its words. */
function inviteCodeBody(uses, hours) {
  const body = {};
  for (const [key, typed] of [
    ["max_uses", uses],
    ["expires_in_hours", hours],
  ]) {
    const text = String(typed).trim();
    if (text === "") continue;
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
      return "Uses and hours are whole numbers (empty: no limit, a week).";
    }
    body[key] = Number(text);
  }
  return body;
}

/** What a live code's line says (parts: appendParts): its prefix, its uses and limit,
 * when it expires, who made it. The code itself the server does not have. */
function inviteCodeText(code) {
  const uses = Number.isInteger(code.uses) ? code.uses : 0;
  const limit = Number.isInteger(code.max_uses)
    ? `${uses} of ${code.max_uses} uses`
    : `${uses} ${uses === 1 ? "use" : "uses"}, no limit`;
  const parts = [`${code.prefix ?? "?"}…, ${limit}, expires ${whenText(code.expires_at)}`];
  if (code.created_by_name) parts.push(", made by ", nameOf(code.created_by_name));
  return parts;
}

/** The code in what was pasted: the code alone, or a join link (`…#join=CODE`) whole;
 * null when it is no code. */
function codeFrom(typed) {
  let text = String(typed).trim();
  const at = text.indexOf("#join=");
  if (at >= 0) text = text.slice(at + "#join=".length);
  return CODE_SHAPE.test(text) ? text : null;
}

/** The link that opens this page offering to join with `code` (`/#join=CODE`). */
const joinLink = (origin, code) => `${origin}/#join=${code}`;

/** The section follows the room's dialog: shown to its owners and moderators only (the
 * role the page knows; the server decides all the same), a server without the routes
 * saying so, the code just made shown once, and the live codes each with *Revoke*. */
function renderInviteCodes() {
  const view = inviteCodes;
  const allowed = Boolean(view.roomId) && moderates(state.roles.get(view.roomId));
  const section = $("invite-codes");
  // Demoted with the focus in it: the focus goes to the room's form, not to nowhere.
  if (!allowed && section.contains(document.activeElement)) $("room-name").focus();
  section.hidden = !allowed;
  $("invite-code-form").hidden = view.missing;
  $("invite-code-made").hidden = !view.made || view.missing;
  if (view.made) {
    $("invite-code-value").value = view.made.code;
    $("invite-code-link").value = joinLink(location.origin, view.made.code);
  }
  if (view.missing) {
    replaceText($("invite-codes-status"), NO_INVITE_CODES);
    $("invite-code-list").replaceChildren();
    return;
  }
  if (!view.list) return;
  const items = view.list.map((code) => {
    const item = el("li", null, inviteCodeText(code));
    item.dataset.key = `invite-code:${code.id}`;
    item.id = `invite-code:${code.id}`;
    const revoking = actionButton("Revoke", "revoke-code", () => revokeInviteCode(code));
    revoking.setAttribute("aria-describedby", item.id); // which code, said with it
    item.append(" ", revoking);
    return item;
  });
  fillList($("invite-code-list"), items, "No live codes.");
}

/** The room's live codes (`GET /rooms/{id}/invite-codes`), for its owners and
 * moderators: asked when *Room settings* opens, after a code is made or revoked, and
 * when the viewer becomes a moderator there. A bare 404/405 or `not_found`: the server
 * has none (NO_INVITE_CODES). */
async function loadInviteCodes() {
  const view = inviteCodes;
  if (!view.roomId || !moderates(state.roles.get(view.roomId))) return renderInviteCodes();
  const asked = (view.asked += 1);
  const token = state.token;
  try {
    const path = pathOf("rooms", view.roomId, "invite-codes");
    const answer = await rest("GET", path, undefined, token);
    if (inviteCodes !== view || view.asked !== asked || state.token !== token) return;
    view.list = Array.isArray(answer?.invite_codes) ? answer.invite_codes : [];
  } catch (error) {
    if (inviteCodes !== view || view.asked !== asked || state.token !== token) return;
    if (lacksRoute(error)) view.missing = true;
    else showRefusal("invite-codes-error", error, "Codes not listed");
  }
  renderInviteCodes();
}

/** lairchat's own `invite_code_created`, `invite_code_used` and `invite_code_revoked`
 * (sent to the room's owners and moderators): the open section's list follows what
 * another moderator (or a join) did, a code made put first (or in place of one held
 * with its id), a used one replaced or, used up, taken out, a revoked one taken out.
 * A list not yet answered is left to its answer. */
function inviteCodeEvent(event) {
  const view = inviteCodes;
  if (!view.list || view.roomId !== event.room_id) return;
  const code = event.invite_code;
  const id = code?.id ?? event.code_id;
  const others = view.list.filter((held) => held.id !== id);
  const usedUp = Number.isInteger(code?.max_uses) && code.uses >= code.max_uses;
  if (event.type === "invite_code_created") view.list = [code, ...others];
  else if (event.type === "invite_code_used" && !usedUp) {
    view.list = view.list.map((held) => (held.id === id ? code : held));
  } else view.list = others;
  renderInviteCodes();
}

/** *Make a code*: `POST /rooms/{id}/invite-codes` with the limits typed. The answer
 * holds the code, the only time it is anywhere: shown with *Copy* and the warning that
 * it is shown only now (the focus on that warning), then the list asked again. A
 * refusal (a bound, a 101st live code, a role taken away) in the server's words. */
async function makeInviteCode(event) {
  event.preventDefault();
  const view = inviteCodes;
  if (!view.roomId) return;
  replaceText($("invite-codes-error"), "");
  replaceText($("invite-codes-status"), "");
  const body = inviteCodeBody($("invite-code-uses").value, $("invite-code-hours").value);
  if (typeof body === "string") {
    replaceText($("invite-codes-error"), body);
    $("invite-code-uses").focus();
    return;
  }
  const token = state.token;
  $("invite-code-submit").disabled = true;
  let made;
  try {
    made = await rest("POST", pathOf("rooms", view.roomId, "invite-codes"), body, token);
  } catch (error) {
    if (inviteCodes !== view || state.token !== token) return;
    $("invite-code-submit").disabled = false;
    if (lacksRoute(error)) {
      view.missing = true;
      renderInviteCodes();
    } else {
      showRefusal("invite-codes-error", error, "No code made");
    }
    return;
  }
  $("invite-code-submit").disabled = false;
  if (inviteCodes !== view || state.token !== token) return;
  view.made = made?.invite_code ?? null;
  $("invite-code-form").reset();
  replaceText($("invite-code-copied"), "");
  renderInviteCodes();
  $("invite-code-once").focus();
  await loadInviteCodes();
}

/** *Revoke*, after a question: `DELETE /rooms/{id}/invite-codes/{code_id}`; no one joins
 * with it from then on. Done or refused (revoked meanwhile: the server's
 * `Invite code not found`), the list is asked again. */
async function revokeInviteCode(code) {
  const view = inviteCodes;
  const question = `Revoke the code ${code.prefix}…? No one can join with it any more.`;
  const beside = () => tabStop($("invite-code-list")) ?? $("invite-code-uses");
  if (!(await confirmAction(question, "Revoke", beside))) return;
  if (inviteCodes !== view) return; // the dialog closed meanwhile
  const token = state.token;
  replaceText($("invite-codes-error"), "");
  try {
    await rest("DELETE", pathOf("rooms", view.roomId, "invite-codes", code.id), undefined, token);
    if (inviteCodes !== view || state.token !== token) return;
    replaceText($("invite-codes-status"), `The code ${code.prefix}… is revoked.`);
  } catch (error) {
    if (inviteCodes !== view || state.token !== token) return;
    showRefusal("invite-codes-error", error, "Code not revoked");
  }
  await loadInviteCodes();
}

/** *Room settings* opened for `roomId` (or closed: null): the section starts afresh,
 * nothing of another room's codes, nor a code made before, kept. */
function inviteCodesFor(roomId) {
  inviteCodes = inviteCodesView(roomId);
  $("invite-code-form").reset();
  $("invite-code-list").replaceChildren();
  $("invite-code-value").value = "";
  $("invite-code-link").value = "";
  for (const line of ["invite-codes-status", "invite-codes-error", "invite-code-copied"]) {
    replaceText($(line), "");
  }
  if (roomId) loadInviteCodes();
  else renderInviteCodes();
}

/** Our role in a room changed while its settings are open: the section follows it
 * (gone when demoted, listed when made a moderator). */
function inviteCodesRoleChanged(roomId) {
  if (inviteCodes.roomId !== roomId || !$("room-dialog").open) return;
  if (moderates(state.roles.get(roomId)) && !inviteCodes.list) loadInviteCodes();
  else renderInviteCodes();
}

/** *Join with a code…*: the code typed or pasted (`code`: one from a join link, which
 * the dialog says it came from). Nothing is joined before *Join* is pressed. */
function openJoinCode(code = "", fromLink = false) {
  if (document.querySelector("dialog[open]")) return false;
  openFormDialog("join-code", "join-code-input");
  $("join-code-input").value = code;
  $("join-code-from-link").hidden = !fromLink;
  return true;
}

/** What a refused join with a code says: the server's words, the one 404 for every bad
 * code explained, the rate limit's wait (describe), a server without the route so
 * named. */
function joinRefusal(error) {
  if (lacksRoute(error)) return `Not joined: ${NO_INVITE_CODES}`;
  if (error.code === "invite_code_not_found") {
    return `Not joined: ${describe(error)}. ${CODE_REFUSED}`;
  }
  return `Not joined: ${describe(error)}`;
}

/** *Join*: `POST /invite-codes/{code}/join` (the code a path segment, encoded; the
 * server logs that path without it). Done, the room is joined and opened, as *Join*
 * from the list does; refused, joinRefusal in the dialog, the code kept to correct. */
async function joinWithCode(event) {
  event.preventDefault();
  const code = codeFrom($("join-code-input").value);
  if (!code) {
    replaceText($("join-code-error"), "That is no invite code: it is letters, digits, - and _.");
    $("join-code-input").focus();
    return;
  }
  const token = state.token;
  let answer = null;
  const done = await sendForm(
    "join-code",
    "join-code-input",
    "Joining…",
    async (sent) => {
      answer = await rest("POST", pathOf("invite-codes", code, "join"), undefined, sent);
    },
    joinRefusal,
    true,
  );
  if (!done || state.token !== token || !answer?.room) return;
  const { room, membership } = answer;
  // Opened once the dialog has closed (its close gives the focus back to its opener):
  // the focus then goes into the room, as after *Join*.
  const dialog = $("join-code-dialog");
  dialog.addEventListener("close", () => entered(room, membership), { once: true });
  dialog.close();
  showNotice(["You joined “", named(room.name), "” with an invite code."]);
}

/** A join link (`#join=CODE`) in the address: once signed in, the page offers to join
 * with it (never joins by itself) and takes it out of the address (and of the history
 * entry), so that it is not bookmarked, shared or offered again. Left there while
 * another dialog is open, for the next time the page looks. */
function offerLinkedJoin() {
  const found = JOIN_FRAGMENT.exec(location.hash);
  if (!found || !state.me) return;
  let code = found[1];
  try {
    code = decodeURIComponent(code);
  } catch {
    // kept as it is: the dialog says it is no code
  }
  if (!openJoinCode(code, true)) return;
  history.replaceState(history.state, "", location.pathname + location.search);
}

// -- administration ------------------------------------------------------------------------------

/** The *Administration* panel's state: open or not, the users and rooms found, the
 * audit log's entries shown (null before its first answer; auditAsked numbers its asks,
 * auditLoading says one is on its way). */
const adminView = () => ({
  open: false,
  users: null,
  usersMore: false,
  rooms: [],
  roomsFound: false,
  audit: null,
  auditMore: false,
  auditMissing: false,
  auditAsked: 0,
  auditLoading: false,
});
let administration = adminView();
/** The user the *Ban* dialog, and the one the *Delete the account* dialog, is for. */
let banning = null;
let deletingUser = null;

/** Shown to admins only: the role the server gave at sign-in, followed since
 * (followRole). The server checks every call all the same. */
const isAdmin = () => state.me?.role === "admin";

/** How many times the stored user was asked for (followRole): only the latest answer counts. */
let roleAsked = 0;

/** Our account as stored now (`get_current_user`), for a role the operator changed since
 * the sign-in (`lairchat admin set-role`): a lairchat server tells us within seconds
 * (`system_role_changed`, roleFollowed), one that does not (an older lairchat, Lair
 * Chat) is asked when the page is looked at again (the window focused, the tab shown)
 * and when an admin request is refused `permission_denied` (rest); every sign-in and
 * reconnection gives it too. An answer overtaken by a later ask, or coming after a
 * sign-out, is dropped; no answer (not connected) changes nothing. */
async function followRole() {
  const token = state.token;
  const asked = (roleAsked += 1);
  let response;
  try {
    response = await ask("get_current_user");
  } catch {
    return;
  }
  if (state.token !== token || roleAsked !== asked || !response.success) return;
  roleFollowed(response.user);
}

/** `user`, ours as stored now, in place of what the sign-in gave: made an admin since,
 * *Administration* is offered; no longer one, it goes, and with it the panel, what it
 * found and its open dialogs (the focus not left nowhere). Either is said in a notice. */
function roleFollowed(user) {
  if (!user || user.id !== state.me?.id) return;
  const was = isAdmin();
  state.me = user;
  if (isAdmin() === was) return;
  if (was) {
    const dialogs = [$("ban-dialog"), $("user-delete-dialog")];
    if (roomDeleting?.admin) dialogs.push($("room-delete-dialog"));
    const open = dialogs.filter((dialog) => dialog.open);
    forgetPanel();
    // Their own close handlers put the focus back in the panel, gone: after them.
    for (const dialog of open) {
      dialog.addEventListener("close", keepFocus, { once: true });
      dialog.close();
    }
    keepFocus();
    showNotice("You are no longer an admin of this server: Administration is closed.");
  } else {
    renderAdmin();
    showNotice("You are now an admin of this server: Administration is offered.");
  }
}

/** What *Administration* shows the counts of (`GET /admin/stats`), in this order. */
const STATS = [
  ["total_users", "Users"],
  ["online_users", "Online"],
  ["connections", "Connections"],
  ["total_rooms", "Rooms"],
  ["total_messages", "Messages"],
];

/** A room id (any form the server takes: hyphens or not), to look a private room up. */
const ROOM_ID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function renderAdmin() {
  administration.open &&= isAdmin();
  $("show-admin").hidden = !isAdmin();
  $("show-admin").setAttribute("aria-expanded", String(administration.open));
  $("admin-panel").hidden = !administration.open;
}

/** *Administration* in the top bar: the panel at the top of the lists opens, its heading
 * focused, the counts asked for; pressed again (or *Close administration*, or Esc in
 * the panel) it closes, the focus back on the button. On a phone, where the lists are
 * out of sight while a conversation is open, that conversation is closed first (its
 * draft kept). */
function toggleAdmin() {
  administration.open = !administration.open;
  renderAdmin();
  if (!administration.open) {
    focusOpener($("show-admin"));
    return;
  }
  if (!displayed($("admin-panel"))) close();
  $("admin-heading").focus();
  refreshAdmin();
}

/** The panel opened, or *Refresh*: the counts and the audit log's newest page asked for. */
function refreshAdmin() {
  loadStats();
  loadAudit(false);
}

/** The refusal of an administration request, in the panel's alert line. */
const adminRefused = (error, what) => showRefusal("admin-error", error, what);

async function loadStats() {
  const token = state.token;
  replaceText($("admin-error"), "");
  replaceText($("admin-status"), "Asking the server…");
  try {
    const answer = await rest("GET", "/admin/stats", undefined, token);
    if (state.token !== token) return;
    const stats = answer?.stats ?? {};
    const rows = STATS.flatMap(([key, label]) => [
      el("dt", null, label),
      el("dd", null, String(stats[key] ?? "?")),
    ]);
    $("admin-stats").replaceChildren(...rows);
    replaceText($("admin-status"), `As of ${new Date().toLocaleTimeString()}.`);
  } catch (error) {
    if (state.token !== token) return;
    replaceText($("admin-status"), "");
    adminRefused(error, "Statistics not read");
  }
}

/** *Find a user*: the users search the page uses for invitations (`list_users`), each
 * found with *Ban*, *Unban* and *Delete* (not for oneself: the server refuses both). */
async function findAdminUsers(event) {
  event.preventDefault();
  const search = $("admin-user-search").value.trim();
  if (!search) return;
  replaceText($("admin-error"), "");
  const found = await findUsers(search);
  if (!found) return;
  administration.users = found.users;
  administration.usersMore = found.has_more === true;
  renderAdminUsers();
  say(foundText(found.users.length, "user"));
}

/** "No user found", "1 user found", "3 users found": said once a search is answered. */
const foundText = (n, what) => `${n || "No"} ${what}${n === 1 ? "" : "s"} found.`;

function renderAdminUsers() {
  const users = administration.users;
  if (!users) return;
  const items = users.map((user) => {
    const item = el("li");
    item.dataset.key = `admin-user:${user.id}`;
    const name = nameOf(user.username);
    name.id = `admin-user:${user.id}`;
    item.append(name);
    if (user.role === "admin") item.append(el("span", "hint", "admin"));
    if (user.id === state.me?.id) {
      item.append(el("span", "hint", "(you)"));
      return item;
    }
    const buttons = [
      actionButton("Ban", "ban", () => openBan(user)),
      actionButton("Unban", "unban", () => unbanUser(user)),
      actionButton("Delete", "delete-user", () => openUserDelete(user)),
    ];
    // Said with the name: "Ban, alice", not "Ban" for every line.
    for (const button of buttons) button.setAttribute("aria-describedby", name.id);
    item.append(...buttons);
    return item;
  });
  if (administration.usersMore) items.push(el("li", "hint", "More match: type more of the name."));
  fillList($("admin-user-list"), items, "No user found.");
}

/** Where the focus goes when a dialog opened from the users found closes. */
const backToUsers = () => tabStop($("admin-user-list")) ?? $("admin-user-search");

function openBan(user) {
  banning = user;
  replaceText($("ban-name"), user.username);
  banChoiceChanged();
  openFormDialog("ban", "ban-duration");
}

/** *Another number of hours* shows the field for them. */
function banChoiceChanged() {
  $("ban-custom").hidden = $("ban-duration").value !== "custom";
}

/** The ban's body from the form: `duration_hours` a preset's hours, null for a
 * permanent ban, or the hours typed (any number above 0: the server holds the upper
 * bound, 876,000, and says so); `reason` when one is typed. A string saying what is
 * wrong when the hours typed are no number above 0. */
function banBody(choice, hours, reason) {
  let duration = null;
  if (choice === "custom") {
    const typed = String(hours).trim();
    duration = Number(typed);
    if (!typed || !Number.isFinite(duration) || duration <= 0) {
      return "Type how many hours the ban lasts (a number above 0).";
    }
  } else if (choice !== "permanent") {
    duration = Number(choice);
  }
  const body = { duration_hours: duration };
  if (reason.trim()) body.reason = reason.trim();
  return body;
}

/** *Ban*: `POST /admin/users/{id}/ban`. Done, a notice says until when; refused, the
 * server's words in the dialog (`Permission denied` for oneself, a duration or reason
 * out of bounds), what was typed kept. */
async function banUser(event) {
  event.preventDefault();
  const user = banning;
  if (!user) return;
  const body = banBody($("ban-duration").value, $("ban-hours").value, $("ban-reason").value);
  if (typeof body === "string") {
    replaceText($("ban-error"), body);
    $("ban-hours").focus();
    return;
  }
  const token = state.token;
  let until = null;
  const done = await sendForm(
    "ban",
    "ban-duration",
    "Banning…",
    async (sent) => {
      const answer = await rest("POST", pathOf("admin", "users", user.id, "ban"), body, sent);
      until = answer?.expires_at ?? null;
    },
    (error) => `Not banned: ${describe(error)}`,
    true,
  );
  if (!done || state.token !== token) return;
  $("ban-dialog").close();
  showNotice([named(user.username), ` is banned ${until ? `until ${whenText(until)}` : "for good"}.`]);
  adminActed();
}

/** After an action of the panel's own (a ban, an unban, a deletion), done: the counts
 * and the audit log's newest page asked again (as *Refresh*), the action first in it. */
function adminActed() {
  if (administration.open) refreshAdmin();
}

/** *Unban*, after a question: `POST /admin/users/{id}/unban` (also when there was no
 * ban). Their sessions stay ended: they log in again. */
async function unbanUser(user) {
  const question = ["Unban ", named(user.username), "?"];
  if (!(await confirmAction(question, "Unban", backToUsers))) return;
  const token = state.token;
  replaceText($("admin-error"), "");
  try {
    await rest("POST", pathOf("admin", "users", user.id, "unban"), undefined, token);
    if (state.token !== token) return;
    showNotice([named(user.username), " is not banned: they may log in."]);
    adminActed();
  } catch (error) {
    if (state.token === token) adminRefused(error, "Not unbanned");
  }
}

function openUserDelete(user) {
  deletingUser = user;
  replaceText($("user-delete-shown"), user.username);
  replaceText($("user-delete-name"), user.username);
  openFormDialog("user-delete", "user-delete-password");
}

/** *Delete the account*: the admin's own password (the server asks it, as at a login:
 * a stolen token alone erases nothing) and the account's name typed again (checked
 * here), then `DELETE /admin/users/{id}`. Done, the account leaves the list found; a
 * refusal (`Invalid credentials`, `Permission denied` for the last admin) is shown in
 * the dialog, the password gone from its field either way. */
async function deleteUser(event) {
  event.preventDefault();
  const user = deletingUser;
  if (!user) return;
  const prompt = ["Type the account's username, ", named(user.username), ", to confirm."];
  if (!typedAgain("user-delete", "user-delete-username", user.username, prompt)) return;
  const body = { password: $("user-delete-password").value };
  const token = state.token;
  const done = await sendForm(
    "user-delete",
    "user-delete-password",
    "Deleting the account…",
    (sent) => rest("DELETE", pathOf("admin", "users", user.id), body, sent),
    (error) => `Account not deleted: ${describe(error)}`,
  );
  if (!done || state.token !== token) return;
  $("user-delete-dialog").close();
  administration.users = administration.users?.filter((u) => u.id !== user.id) ?? null;
  renderAdminUsers();
  showNotice(["The account ", named(user.username), " is deleted."]);
  adminActed();
}

/** *Find a room*: public rooms by name (`list_rooms`), the rooms we are in whose name
 * holds it, and, for a room id, that room (`GET /rooms/{id}`, private ones too: how
 * an admin told of one reaches it). Each with *Delete*. */
async function findAdminRooms(event) {
  event.preventDefault();
  const search = $("admin-room-search").value.trim();
  if (!search) return;
  replaceText($("admin-error"), "");
  const token = state.token;
  const found = new Map();
  for (const room of state.rooms.values()) {
    if (matches(room.name, search)) found.set(room.id, { room, member_count: null });
  }
  const page = await command("list_rooms", { filter: { search }, limit: LIST_LIMIT });
  for (const it of page?.rooms ?? []) found.set(it.room.id, it);
  if (ROOM_ID.test(search)) {
    try {
      const it = await rest("GET", pathOf("rooms", search), undefined, token);
      found.set(it.room.id, it);
    } catch (error) {
      if (state.token === token && error.code !== "room_not_found") {
        adminRefused(error, "Room not looked up");
      }
    }
  }
  if (state.token !== token) return;
  administration.rooms = [...found.values()].sort((a, b) => byName(a.room.name, b.room.name));
  administration.roomsFound = true;
  renderAdminRooms();
  say(foundText(found.size, "room"));
}

function renderAdminRooms() {
  if (!administration.roomsFound) return;
  const items = administration.rooms.map((it) => {
    const { room } = it;
    const item = el("li");
    item.dataset.key = `admin-room:${room.id}`;
    const name = nameOf(room.name);
    name.id = `admin-room:${room.id}`;
    const kind = room.settings?.is_private ? "private" : "public";
    const count = it.member_count;
    const about = count == null ? kind : `${kind}, ${count} member${count === 1 ? "" : "s"}`;
    const remove = actionButton("Delete", "delete-room", () =>
      openRoomDelete(room, true, () => tabStop($("admin-room-list")) ?? $("admin-room-search")),
    );
    remove.setAttribute("aria-describedby", name.id);
    item.append(name, el("span", "hint", about), remove);
    return item;
  });
  fillList($("admin-room-list"), items, "No room found.");
}

// -- the audit log ---------------------------------------------------------------------------

/** Entries asked for at a time (the terminal client's `/admin audit` shows as many). */
const AUDIT_PAGE = 20;
/** What a server without the audit log (the original, an older lairchat) is said to keep. */
const NO_AUDIT = "This server keeps no audit log.";

/** What the entry's `action` (docs/protocols/HTTP.md, "Admin") is said as, before its
 * subject's name; an action not listed here is shown as the server names it. */
const AUDIT_ACTIONS = {
  "user.ban": "banned",
  "user.unban": "unbanned",
  "user.delete": "deleted the account",
  "user.set_role": "set the role of",
  "user.create": "created the account",
  "user.reset_password": "reset the password of",
  "user.reset_2fa": "reset the two-factor sign-in of",
  "room.delete": "deleted the room",
};

/** An audit entry as one sentence, in parts (appendParts): when, who (a name at the time,
 * set apart as names are, or the operator's command line), what, to whom, and its
 * details: `7 Dec 2026, 04:31: admin banned alice until 8 Dec 2026, 04:31, reason
 * “spam”`. Every name and detail is text, isolated (`bdi`): a reason saying `. bob
 * deleted the room x` cannot pass for another entry. */
function auditText(entry) {
  const actor = entry.actor ?? {};
  const subject = entry.subject ?? {};
  const details = { ...entry.details };
  const who =
    actor.operator === true
      ? "The operator (command line)"
      : named(actor.username ?? actor.user_id ?? "?");
  const what = AUDIT_ACTIONS[entry.action] ?? `${entry.action} ${subject.type ?? ""}`.trimEnd();
  const whom = named(subject.name ?? subject.id ?? "?");
  const parts = [`${whenText(entry.at)}: `, who, ` ${what} `, whom];
  if ("role" in details) {
    const role = nameOf(String(details.role)); // the new one, or a new account's
    parts.push(entry.action === "user.set_role" ? " to " : ", role ", role);
  }
  if ("until" in details) {
    parts.push(details.until ? ` until ${whenText(details.until)}` : " for good");
  }
  if (details.reason) parts.push(", reason “", nameOf(String(details.reason)), "”");
  if (details.pending_setup === true) parts.push(" (a setup never turned on, cleared)");
  for (const [key, value] of Object.entries(details)) {
    if (["role", "until", "reason", "pending_setup"].includes(key)) continue;
    parts.push(`, ${key}: `, nameOf(typeof value === "string" ? value : JSON.stringify(value)));
  }
  return parts;
}

/** The audit log's newest page (`GET /admin/audit`), or with `older` the page before the
 * oldest entry shown (`before`, its id), added below. An answer to an ask overtaken by a
 * later one (*Refresh* while *Older* is on its way) is dropped, and *Older* pressed while
 * a page is on its way asks nothing (the same page twice); one refused as its `before`
 * is gone (pruned by age meanwhile) starts again from the newest. A server without the
 * route says so in the list; another refusal is shown in the panel's alert line. */
async function loadAudit(older) {
  const shown = administration.audit ?? [];
  const before = shown.at(-1)?.id;
  if (older && (administration.auditLoading || !before)) return;
  const token = state.token;
  const asked = (administration.auditAsked += 1);
  administration.auditLoading = true;
  const after = older ? `&before=${encodeURIComponent(before)}` : "";
  replaceText($("admin-audit-status"), "Asking the server…");
  let answer = null;
  let refused = null;
  try {
    answer = await rest("GET", `/admin/audit?limit=${AUDIT_PAGE}${after}`, undefined, token);
  } catch (error) {
    refused = error;
  }
  if (state.token !== token || administration.auditAsked !== asked) return;
  administration.auditLoading = false;
  replaceText($("admin-audit-status"), "");
  if (older && refused?.code === "validation_failed") {
    // Our `before` is the only parameter an *Older* can get wrong: that entry was pruned
    // meanwhile (HTTP.md: start again from the newest).
    say("The oldest entries shown are no longer kept: the newest again.");
    await loadAudit(false);
    return;
  }
  if (refused && lacksRoute(refused)) {
    Object.assign(administration, { audit: [], auditMore: false, auditMissing: true });
  } else if (refused) {
    adminRefused(refused, "Audit log not read");
    return;
  } else {
    const entries = (Array.isArray(answer?.entries) ? answer.entries : []).filter(
      (entry) => typeof entry?.id === "string",
    );
    administration.audit = older ? [...shown, ...entries] : entries;
    administration.auditMore = answer?.has_more === true && entries.length > 0;
    administration.auditMissing = false;
  }
  renderAudit();
  // Read on from the first entry added (Tab then goes on to *Older*).
  if (older) $("admin-audit-list").children[shown.length]?.focus();
}

function renderAudit() {
  const entries = administration.audit;
  const list = $("admin-audit-list");
  const items = (entries ?? []).map((entry) => {
    const item = el("li", null, auditText(entry));
    item.tabIndex = -1; // focused by *Older*, not a stop in the Tab order
    return item;
  });
  const none = administration.auditMissing ? NO_AUDIT : entries ? "Nothing recorded yet." : "";
  list.replaceChildren(...(items.length ? items : [el("li", "empty", none)]));
  showButton($("admin-audit-older"), administration.auditMore, () => list.lastElementChild);
}

/** Signed out: nothing of the administration, or of a room's dialogs, stays. */
function forgetAdministration() {
  roomEditing = roomDeleting = banning = deletingUser = null;
  roomsGone = new Set();
  forgetPanel();
}

/** Nothing of *Administration* (what was found, the counts, the audit log, the fields)
 * stays, and it is shown as the role now says (closed, for a user). */
function forgetPanel() {
  administration = adminView();
  for (const form of ["admin-user-form", "admin-room-form"]) $(form).reset();
  for (const list of ["admin-stats", "admin-user-list", "admin-room-list", "admin-audit-list"]) {
    $(list).replaceChildren();
  }
  $("admin-audit-older").hidden = true;
  for (const line of ["admin-status", "admin-error", "admin-audit-status"]) {
    replaceText($(line), "");
  }
  renderAdmin();
}

// -- events ------------------------------------------------------------------------------------

function systemLine(roomId, text) {
  if (state.active === `room:${roomId}`) {
    const list = $("messages");
    const follow = nearBottom(list);
    list.append(systemItem(text));
    if (follow) list.scrollTop = list.scrollHeight;
  }
}

/** lairchat's own `invitation_revoked` (asked for in the hello): the invitation leaves our
 * invitations, saying so, and the room's pending invitations if they are shown. */
function invitationRevoked(id) {
  const mine = state.invitations.find((inv) => inv.id === id);
  if (mine) {
    state.invitations = state.invitations.filter((inv) => inv.id !== id);
    showNotice(["The invitation to “", named(mine.room_name), "” was withdrawn."]);
    renderInvitations();
  }
  const invited = state.invited;
  if (invited?.list?.some((inv) => inv.id === id)) {
    invited.list = invited.list.filter((inv) => inv.id !== id);
    renderInvited();
  }
}

/** lairchat's own `room_created`: a new public room joins the public rooms listed, unless
 * known already (ours comes in the answer to our request). */
function roomCreated(room) {
  if (!room?.id || state.rooms.has(room.id) || state.publicRooms.has(room.id)) return;
  state.publicRooms.set(room.id, { room, member_count: 1 });
  renderRooms();
}

function onEvent(event) {
  handleEvent(event);
  // After the event's own handling: a room left or deleted is closed by then.
  if (event.room_id) memberEvent(event);
}

function handleEvent(event) {
  switch (event.type) {
    case "message_received":
      received(event.message, event.author_username);
      break;
    case "message_edited":
      showEdited(event.message);
      pinEvent(event);
      break;
    case "message_deleted":
      forgetMessage(event.message_id);
      pinEvent(event);
      break;
    case "user_joined_room":
      state.users.set(event.user.id, event.user.username);
      if (event.user.id === state.me.id) loadRooms();
      else systemLine(event.room_id, [named(event.user.username), " joined the room"]);
      listsChanged();
      break;
    case "user_left_room":
      if (event.user_id === state.me.id) {
        forgetRoom(event.room_id);
        if (state.active === `room:${event.room_id}`) {
          close(event.reason === "kicked" ? "You were removed from the room." : null);
        }
        loadRooms();
      } else {
        const name = userName(event.user_id);
        const who = name === undefined ? "someone" : named(name);
        systemLine(event.room_id, [who, event.reason === "kicked" ? " was removed" : " left"]);
      }
      break;
    case "room_updated":
      roomChanged(event.room);
      break;
    case "room_deleted":
      roomDeleted(event.room_id, event.room_name);
      break;
    case "member_role_changed":
      systemLine(event.room_id, [named(event.username), ` is now ${event.new_role}`]);
      if (event.user_id === state.me.id) setRole(event.room_id, event.new_role);
      break;
    case "user_online":
      state.online.add(event.user_id);
      state.users.set(event.user_id, event.username);
      listsChanged();
      break;
    case "user_offline":
      state.online.delete(event.user_id);
      listsChanged();
      break;
    case "user_typing": {
      const key = keyOfTarget(event.target, event.user_id);
      const typers = state.typing.get(key) ?? new Map();
      state.typing.set(key, typers);
      clearTimeout(typers.get(event.user_id));
      typers.set(event.user_id, setTimeout(() => stopTyping(key, event.user_id), TYPING_SHOWN_MS));
      if (key === state.active) renderTyping();
      break;
    }
    case "invitation_received":
      state.invitations = [event.invitation, ...state.invitations];
      showNotice([
        named(event.invitation.inviter_name),
        " invited you to “",
        named(event.invitation.room_name),
        "”.",
      ]);
      renderInvitations();
      break;
    case "server_notice":
      showNotice(event.message, event.severity, true);
      break;
    case "invitation_revoked":
      invitationRevoked(event.invitation_id);
      break;
    case "room_created":
      roomCreated(event.room);
      break;
    case "messages_read":
      readElsewhere(event.target, event.unread_count, event.mention_count);
      break;
    case "reaction_added":
    case "reaction_removed":
      reactionChanged(
        event.message_id,
        event.emoji,
        event.user_id,
        event.type === "reaction_added",
        true,
      );
      break;
    case "message_pinned":
    case "message_unpinned":
      pinEvent(event);
      break;
    case "system_role_changed":
      roleFollowed(event.user);
      break;
    case "invite_code_created":
    case "invite_code_used":
    case "invite_code_revoked":
      inviteCodeEvent(event);
      break;
    default:
      break; // newer servers may add events
  }
}

// -- the page ----------------------------------------------------------------------------------

/** What the login form says of a refusal, and whether it asks for the second factor
 * (`ask`; `asked`: it was asked already): the server wants a code (`totp_required`:
 * the password was right) or refused the one given (`invalid_totp`: wrong, or used
 * already), said in the server's words; anything else as it is. */
function loginRefusal(error, asked) {
  if (error.code === "totp_required") return { text: CODE_ASKED, ask: true, again: true };
  if (error.code === "invalid_totp") {
    return { text: `${describe(error)}. ${CODE_AGAIN}`, ask: true, again: true };
  }
  return { text: describe(error), ask: asked, again: false };
}

/** The code field `field` (with its label `label` and toggle `toggle`) for an
 * authenticator's 6 digits (a phone's number pad: `inputmode="numeric"`) or, with
 * `recovery`, a recovery code (letters and digits: a phone's keyboard). */
function codeKind(field, label, toggle, recovery) {
  $(field).inputMode = recovery ? "text" : "numeric";
  $(field).dataset.recovery = recovery ? "yes" : "";
  replaceText($(label), recovery ? "Recovery code" : "Code from your app");
  replaceText(
    $(toggle),
    recovery ? "Use a code from your app instead" : "Use a recovery code instead",
  );
}

/** The login form's code field shown (a code asked) or not. */
function askCode(shown) {
  $("login-code-box").hidden = !shown;
  $("login-recovery").hidden = !shown;
  $("login-code").required = shown;
  $("login-code").value = "";
  if (!shown) codeKind("login-code", "login-code-label", "login-recovery", false);
}

/** Log in (`/auth/login`) or register. An account with two-factor sign-in on answers
 * the right password with `totp_required`: the form then asks for the code under the
 * password, which stays in its field (the server keeps no half-done login: the code
 * goes with the password in one request), and the next *Log in* sends both. */
async function signIn(form, path, body) {
  const button = form.querySelector('button[type="submit"]');
  const login = form.id === "login-form";
  const asked = login && !$("login-code-box").hidden;
  if (asked) body.totp = $("login-code").value;
  button.disabled = true;
  replaceText($("login-reason"), "");
  try {
    const answer = await rest("POST", path, body);
    sessionStorage.setItem(TOKEN_KEY, answer.token);
    form.reset();
    if (login) askCode(false);
    start(answer.token);
  } catch (error) {
    const refusal = login ? loginRefusal(error, asked) : { text: describe(error) };
    replaceText($("login-reason"), refusal.text);
    if (refusal.again) {
      if (!asked) askCode(true);
      $("login-code").value = "";
      $("login-code").focus();
    }
  } finally {
    button.disabled = false;
  }
}

/** *Skip to the message box* (the first Tab): past the lists, which can be 300 stops. */
function skipToMessageBox() {
  const input = $("message-input");
  (input.disabled ? ($("room-list").querySelector("button") ?? $("new-room-name")) : input).focus();
}

/** *Conversations* (shown on a phone, where the lists and the conversation take the
 * screen in turn): the conversation is closed, its draft kept, and the focus goes to its
 * place in the lists. */
function backToLists() {
  const key = state.active;
  close();
  const item = [...document.querySelectorAll("nav li")].find((li) => li.dataset.key === key);
  (item?.querySelector("button") ?? $("room-list").querySelector("button"))?.focus();
}

/** Alt+Up / Alt+Down, anywhere: the conversation before or after the open one, in the
 * order of the lists (your rooms, then people); the first one when none is open. From
 * the message box the lists are otherwise dozens of Shift+Tabs away. */
function switchConversation(event) {
  const step = { ArrowUp: -1, ArrowDown: 1 }[event.key];
  if (!step || !event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
  if (!state.connection || document.querySelector("dialog[open]")) return;
  const keys = [...document.querySelectorAll("#room-list li, #user-list li")]
    .map((item) => item.dataset.key)
    .filter(Boolean);
  const at = keys.indexOf(state.active);
  const next = keys[at < 0 ? 0 : Math.min(Math.max(at + step, 0), keys.length - 1)];
  event.preventDefault();
  if (!next || next === state.active) return;
  open(next);
  // The focus may not move (already in the message box): nothing else would tell a
  // screen reader where it now is.
  say($("conversation-title").textContent);
}

/** The open conversation's next older page, if there is one (and none is on its way). */
function olderMessages() {
  const conv = state.active && conversation(state.active);
  if (conv?.hasMore && !conv.loading) loadHistory(conv, true);
}

// -- message search -----------------------------------------------------------------------

/** A combining mark: folded with the character before it (a decomposed "é" is the "é"
 * a query typed precomposed must find). */
const COMBINING = /^\p{M}$/u;

/** Where the first match of `query` is in `content`: [start, end] in code points, or
 * null when the server's rule found it where this one cannot (a match across pieces
 * that normalise differently apart than together): then nothing is marked. The
 * server matches the query, trimmed, NFKC-normalised and case-folded, inside the
 * content folded alike; the page only marks where (the terminal client's
 * `match_span`, checked on one corpus in tests/unit/test_web_search.py). */
function matchSpan(content, query) {
  const wanted = foldedUnits(query.trim())[0];
  if (!wanted) return null;
  const [folded, owner] = foldedUnits(content);
  const at = folded.indexOf(wanted);
  if (at < 0) return null;
  return [owner[at][0], owner[at + wanted.length - 1][1]];
}

/** `text` folded a piece at a time (a character and the combining marks after it), and
 * for each UTF-16 unit of the result the code points [start, end] it came from. The
 * query is folded the same way: whole, JavaScript's lower case makes a final "Σ" a
 * "ς", where Python's casefold (the server's) makes every sigma "σ". */
function foldedUnits(text) {
  const chars = Array.from(text);
  let folded = "";
  const owner = [];
  let start = 0;
  for (let i = 1; i <= chars.length; i++) {
    if (i < chars.length && COMBINING.test(chars[i])) continue;
    const piece = fold(chars.slice(start, i).join(""));
    folded += piece;
    for (let k = 0; k < piece.length; k++) owner.push([start, i]);
    start = i;
  }
  return [folded, owner];
}

/** The line of `content` holding the match, as [before, match, after]: at most
 * SEARCH_CONTEXT characters before it (`…` when cut), the match (up to the line's end),
 * the rest of the line up to SEARCH_ROW characters from the match. No match found: the
 * first line, unmarked. Only the first 4,096 characters are looked at (every message
 * lairchat accepts, whole), as by `mentions` and the terminal client's `excerpt`. */
function searchExcerpt(content, query) {
  const text = String(content ?? "");
  const chars = Array.from(text.slice(0, 2 * CONTENT_MAX_BYTES)).slice(0, CONTENT_MAX_BYTES);
  const span = matchSpan(chars.join(""), query);
  const lineEnd = (from) => {
    const at = chars.indexOf("\n", from);
    return at < 0 ? chars.length : at;
  };
  if (!span) return [chars.slice(0, Math.min(lineEnd(0), SEARCH_ROW)).join(""), "", ""];
  const [start] = span;
  const lineStart = start === 0 ? 0 : chars.lastIndexOf("\n", start - 1) + 1;
  const end = Math.min(span[1], lineEnd(start));
  let before = chars.slice(lineStart, start);
  if (before.length > SEARCH_CONTEXT) before = ["…", ...before.slice(-SEARCH_CONTEXT)];
  const after = chars.slice(end, Math.min(lineEnd(start), start + SEARCH_ROW));
  return [before.join(""), chars.slice(start, end).join(""), after.join("")];
}

/** A search typed (*Search*): in the open conversation, or everywhere when asked or
 * when none is open; with the *Filters* set, only one author's messages (a name, looked
 * up as an invitation's is) and those of the days from *Since* to *Until*, both
 * included, and then the text may be left empty. Its first page is asked for; the panel
 * shows it as it comes. */
async function searchMessages(event) {
  event.preventDefault();
  const query = $("search-text").value.trim();
  const filters = searchFilters();
  if (!query && !filters.any) return;
  const here = $("search-scope").value === "here" ? state.active : null;
  const { authorName, since, until } = filters;
  const search = { query, key: here, authorName, since, until, author: null };
  state.search = Object.assign(search, { messages: [], hasMore: false, nextBefore: null });
  if (authorName) {
    search.busy = true;
    renderSearch();
    search.author = await userNamed(authorName);
    search.busy = false;
    if (state.search !== search) return;
    if (!search.author) {
      search.error = `No user named “${authorName}”.`;
      renderSearch();
      say(search.error);
      return;
    }
  }
  searchPage(search);
}

/** The form's *Filters*: the author's name as typed (without an `@`), the first and
 * last days (`YYYY-MM-DD`, as date fields give them), each "" when not set. */
function searchFilters() {
  const authorName = $("search-from").value.trim().replace(/^@/, "");
  const since = $("search-since").value;
  const until = $("search-until").value;
  return { authorName, since, until, any: Boolean(authorName || since || until) };
}

/** The start of `day` (`YYYY-MM-DD`) `after` days later, where the reader is, in RFC
 * 3339 as the server's `since` and `until` take it: the server's `until` is exclusive,
 * so the last day searched is sent as the next day's start (the terminal client's
 * `day_start` and `day_after`). */
function dayStart(day, after = 0) {
  const [year, month, date] = day.split("-").map(Number);
  return new Date(year, month - 1, date + after).toISOString();
}

/** The id of the user named `name` (any case): one the page knows, or else the one the
 * server's user search finds by that name; null when no one has it. */
async function userNamed(name) {
  const wanted = name.toLowerCase();
  for (const [id, known] of state.users) if (known.toLowerCase() === wanted) return id;
  const found = await findUsers(name);
  const user = found?.users.find((u) => u.username.toLowerCase() === wanted);
  if (!user) return null;
  state.users.set(user.id, user.username);
  return user.id;
}

/** One page of the search (`GET /api/v1/messages/search`, REST: a server without search
 * answers it 404, where over the WebSocket the original answers an error frame that
 * names no request). Older pages only on *Search older messages*: each may scan 5,000
 * messages on the server. An answer to a search replaced or closed meanwhile is dropped. */
async function searchPage(search) {
  if (search.busy) return;
  search.busy = true;
  search.error = null;
  renderSearch();
  const params = new URLSearchParams({ q: search.query });
  if (search.key) {
    const conv = conversation(search.key);
    params.set("target_type", conv.kind === "room" ? "room" : "direct_message");
    params.set("target_id", conv.id);
  }
  if (search.nextBefore) params.set("before", search.nextBefore);
  if (search.author) params.set("author", search.author);
  if (search.since) params.set("since", dayStart(search.since));
  if (search.until) params.set("until", dayStart(search.until, 1));
  const shown = search.messages.length;
  try {
    const answer = await rest("GET", `/messages/search?${params}`, undefined, state.token);
    const found = (Array.isArray(answer?.messages) ? answer.messages : []).filter(
      (m) => m && typeof m.id === "string" && m.target,
    );
    search.messages.push(...found);
    search.hasMore = answer.has_more === true && typeof answer.next_before === "string";
    search.nextBefore = search.hasMore ? answer.next_before : null;
  } catch (error) {
    if (state.search === search && Object.hasOwn(ENDED, error.code)) {
      signOut(error.code, error.message);
      return;
    }
    search.error = routeMissing(error) ? NO_SEARCH : describe(error);
  } finally {
    search.busy = false;
  }
  if (state.search !== search) return;
  renderSearch();
  announceSearch(search, shown);
}

/** What a page found, said in the page's polite way (the announcer): a screen reader in
 * the search field hears nothing of the panel filling. */
function announceSearch(search, shown) {
  if (search.error) return say(search.error);
  const added = search.messages.length - shown;
  const more = search.hasMore ? " Older messages are not searched yet." : "";
  const found = added === 1 ? "1 message found" : `${added || "No"} messages found`;
  say(`${shown ? `${found} in older messages` : found}.${more}`);
}

/** The search panel, from `state.search`: each result a button (its time, its
 * conversation, its author, the line holding the match, the match in a `mark`), all
 * text set as text, never HTML from a message. */
function renderSearch() {
  const search = state.search;
  $("search-results").hidden = !search;
  if (!search) {
    $("search-list").replaceChildren();
    return;
  }
  const where = search.key ? conversationName(search.key) : "every conversation";
  replaceText($("search-heading"), [...searchTitle(search), " in ", nameOf(where)]);
  const none = search.query ? "No message holds that." : "No message found.";
  fillList(
    $("search-list"),
    search.messages.map((message) => searchItem(message, search.query)),
    search.busy ? "Searching…" : search.error ? "" : none,
  );
  const status = search.error
    ? search.error
    : search.busy && search.messages.length
      ? "Searching older messages…"
      : search.hasMore
        ? "Older messages are not searched yet."
        : search.messages.length
          ? "No older match."
          : "";
  replaceText($("search-status"), status);
  $("search-status").className = search.error ? "reason" : "hint";
  const more = search.hasMore && !search.busy && !search.error;
  showButton($("search-more"), more, () => tabStop($("search-list")) ?? $("search-close"));
}

/** What the results are for, as the panel's heading says it: the text, and the
 * filters: `Results for “lunch” from bob since 2026-03-01 until 2026-03-31`. */
function searchTitle(search) {
  const parts = search.query ? ["Results for “", search.query, "”"] : ["Results"];
  if (search.authorName) parts.push(" from ", nameOf(search.authorName));
  if (search.since) parts.push(` since ${search.since}`);
  if (search.until) parts.push(` until ${search.until}`);
  return parts;
}

/** A conversation's name as the search panel says it: `#room`, or `bob` for a DM. */
function conversationName(key) {
  if (key.startsWith("room:")) return `#${roomName(key)}`;
  const id = key.slice("dm:".length);
  return userName(id) ?? "someone";
}

function searchItem(message, query) {
  const key = keyOfMessage(message);
  const item = el("li", "search-result");
  item.dataset.key = `found:${message.id}`;
  const button = el("button", "link");
  button.type = "button";
  const time = el("time", "time", clock(message.created_at));
  time.dateTime = message.created_at;
  const author = userName(message.author);
  if (author === undefined) lookUpUser(message.author);
  const [before, match, after] = searchExcerpt(message.content, query);
  const line = el("span", "found-line", before);
  if (match) line.append(el("mark", null, match));
  appendText(line, after);
  button.append(
    time,
    " ",
    nameOf(conversationName(key), "where"),
    " · ",
    nameOf(author ?? "…", "author"),
    el("br"),
    line,
  );
  button.querySelector(".author").dataset.user = message.author;
  button.addEventListener("click", () => open(key));
  item.append(button);
  return item;
}

/** *Close results* (or Esc in the panel): the search is forgotten, the focus back in
 * its field. */
function closeSearch() {
  state.search = null;
  renderSearch();
  $("search-text").focus();
}

// -- the account menu (phones) ---------------------------------------------------------

/** Where the page is laid out for a phone (app.css's `max-width: 40rem`). */
const NARROW = window.matchMedia("(max-width: 40rem)");

/** The account's actions (notifications, password, data, deletion, sessions,
 * administration, log out) as buttons in the top bar on a wide screen; on a phone, where
 * they took five lines of the bar, one *Account* menu: `role="menu"` named by who is
 * signed in (shown at its top), its buttons menuitems out of the Tab order, the
 * notifications' box a menuitemcheckbox. Set at start and whenever the window crosses
 * the width, the menu closed. */
function accountMenuMode() {
  const narrow = NARROW.matches;
  const menu = $("account-menu");
  setAccountMenu(false);
  const items = [[$("notify"), "menuitemcheckbox"]];
  for (const button of menu.querySelectorAll(":scope > button")) items.push([button, "menuitem"]);
  for (const [node, role] of [[menu, "menu"], ...items]) {
    if (narrow) node.setAttribute("role", role);
    else node.removeAttribute("role");
    if (node === menu) continue;
    if (narrow) node.tabIndex = -1;
    else node.removeAttribute("tabindex");
  }
  if (narrow) {
    menu.setAttribute("aria-labelledby", "signed-in");
    $("signed-in").setAttribute("aria-hidden", "true"); // heard as the menu's name
  } else {
    menu.removeAttribute("aria-labelledby");
    $("signed-in").removeAttribute("aria-hidden");
  }
}

/** The account menu's items shown (*Administration* for admins only, the
 * notifications' box where the browser has notifications), in order. */
const accountItems = () =>
  [...$("account-menu").querySelectorAll('[role^="menuitem"]')].filter(displayed);

const accountMenuOpen = () => $("account-menu").classList.contains("open");

/** Open or close the account menu; opened with `focus` (`first`, `last`), that item
 * takes the focus. */
function setAccountMenu(open, focus = null) {
  $("account-menu").classList.toggle("open", open);
  $("account-button").setAttribute("aria-expanded", String(open));
  if (!open || !focus) return;
  const items = accountItems();
  items[focus === "last" ? items.length - 1 : 0]?.focus();
}

/** The focus back on `button`, what a dialog or panel was opened from; one in the
 * closed account menu (a phone) gives it to *Account*, not to nowhere. */
function focusOpener(button) {
  if (!button) return;
  if (displayed(button)) button.focus();
  else if ($("account-menu").contains(button) && displayed($("account-button"))) {
    $("account-button").focus();
  }
}

/** *Account*: Enter, Space or a click opens the menu on its first item (closes it when
 * open), Down on its first, Up on its last. */
function accountButtonKeys(e) {
  if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
  e.preventDefault();
  setAccountMenu(true, e.key === "ArrowUp" ? "last" : "first");
}

/** In the open menu: Up and Down between the items (round), Home and End; Esc closes
 * it, the focus back on *Account*; Tab closes it and goes on from *Account*; Enter
 * toggles the notifications' box as Space does. */
function accountMenuKeys(e) {
  if (!accountMenuOpen()) return;
  const items = accountItems();
  const at = items.indexOf(document.activeElement);
  const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: items.length - 1 }[e.key];
  if (to !== undefined) {
    e.preventDefault();
    items[(to + items.length) % items.length]?.focus();
  } else if (e.key === "Escape" || e.key === "Tab") {
    if (e.key === "Escape") e.preventDefault();
    setAccountMenu(false);
    $("account-button").focus(); // Tab's default then moves on from here
  } else if (e.key === "Enter" && e.target === $("notify")) {
    e.preventDefault();
    e.target.click();
  }
}

function wireAccountMenu() {
  const menu = $("account-menu");
  const button = $("account-button");
  button.addEventListener("click", () => setAccountMenu(!accountMenuOpen(), "first"));
  button.addEventListener("keydown", accountButtonKeys);
  menu.addEventListener("keydown", accountMenuKeys);
  // An item chosen closes the menu before its own handler runs (capture), so that a
  // handler giving the focus back to its button finds it hidden (focusOpener). The
  // notifications' box stays: a box is ticked, not chosen.
  menu.addEventListener(
    "click",
    (e) => {
      if (accountMenuOpen() && e.target.closest("button")) setAccountMenu(false);
    },
    true,
  );
  const outside = (node) => !menu.contains(node) && !button.contains(node);
  document.addEventListener("pointerdown", (e) => {
    if (accountMenuOpen() && outside(e.target)) setAccountMenu(false);
  });
  menu.addEventListener("focusout", (e) => {
    if (accountMenuOpen() && e.relatedTarget && outside(e.relatedTarget)) setAccountMenu(false);
  });
  NARROW.addEventListener("change", accountMenuMode);
  accountMenuMode();
}

function wire() {
  wireAccountMenu();
  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    signIn(e.target, "/auth/login", {
      identifier: $("login-identifier").value,
      password: $("login-password").value,
    });
  });
  $("register-form").addEventListener("submit", (e) => {
    e.preventDefault();
    signIn(e.target, "/auth/register", {
      username: $("register-username").value,
      email: $("register-email").value,
      password: $("register-password").value,
    });
  });
  $("logout").addEventListener("click", logout);
  $("notify").addEventListener("change", notifySettingChanged);
  // Turned on or off in another tab: this one follows.
  window.addEventListener("storage", (e) => {
    if (e.key === NOTIFY_KEY || e.key === null) renderNotifySetting();
  });
  $("change-password").addEventListener("click", () =>
    openFormDialog("password", "password-current"),
  );
  $("password-form").addEventListener("submit", changePassword);
  $("password-cancel").addEventListener("click", () => $("password-dialog").close());
  $("password-dialog").addEventListener("close", () =>
    formDialogClosed("password", "change-password"),
  );
  $("delete-account").addEventListener("click", openDeleteDialog);
  $("delete-form").addEventListener("submit", deleteAccount);
  $("delete-cancel").addEventListener("click", () => $("delete-dialog").close());
  $("delete-dialog").addEventListener("close", () => formDialogClosed("delete", "delete-account"));
  $("download-data").addEventListener("click", openExportDialog);
  $("export-form").addEventListener("submit", exportData);
  $("export-cancel").addEventListener("click", () => $("export-dialog").close());
  $("export-dialog").addEventListener("close", exportDialogClosed);
  $("show-sessions").addEventListener("click", openSessionsDialog);
  wireAdministration();
  wireTwoFactor();
  $("sessions-close").addEventListener("click", () => $("sessions-dialog").close());
  $("sessions-dialog").addEventListener("close", sessionsDialogClosed);
  $("skip").addEventListener("click", skipToMessageBox);
  const lists = ["invitation-list", "room-list", "public-list", "user-list", "member-list"];
  const admin = ["admin-user-list", "admin-room-list"];
  const panels = ["invited-list", "pin-list", "session-list"];
  for (const id of ["search-list", ...lists, ...panels, ...admin]) {
    $(id).addEventListener("keydown", listKeys);
    $(id).addEventListener("focusin", () => oneTabStop($(id)));
  }
  document.addEventListener("keydown", switchConversation);
  $("back").addEventListener("click", backToLists);
  $("create-room-form").addEventListener("submit", createRoom);
  $("leave-room").addEventListener("click", leave);
  $("show-members").addEventListener("click", toggleMembers);
  // Esc in the member list closes it, the focus back on *Members*.
  $("members").addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || !state.membersOpen) return;
    e.preventDefault();
    toggleMembers();
    $("show-members").focus();
  });
  $("show-pins").addEventListener("click", togglePins);
  // Esc in the pinned messages closes them, the focus back on *Pinned*.
  $("pins").addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || !state.pinsOpen) return;
    e.preventDefault();
    togglePins();
    $("show-pins").focus();
  });
  $("search-form").addEventListener("submit", searchMessages);
  // With a filter set, the text may be left empty.
  $("search-filters").addEventListener("input", () => {
    $("search-text").required = !searchFilters().any;
  });
  $("search-more").addEventListener("click", () => state.search && searchPage(state.search));
  $("search-close").addEventListener("click", closeSearch);
  $("search-results").addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    e.preventDefault();
    closeSearch();
  });
  $("public-search").addEventListener("input", () => searchTyped("rooms", loadPublicRooms));
  $("people-search").addEventListener("input", () => searchTyped("people", loadUsers));
  $("public-more").addEventListener("click", moreRooms);
  $("people-more").addEventListener("click", loadUsers);
  $("invite-form").addEventListener("submit", invite);
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    sendMessage();
  });
  const input = $("message-input");
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendMessage();
    }
  });
  input.addEventListener("input", typed);
  $("load-older").addEventListener("click", olderMessages);
  const list = $("messages");
  list.addEventListener("scroll", (e) => {
    if (e.target.scrollTop < 40) olderMessages();
  });
  list.addEventListener("keydown", lineKeys);
  list.addEventListener("focusin", (e) => lineFocused(e.target.closest("#messages > li")));
  list.addEventListener("focusout", (e) => {
    if (!list.contains(e.relatedTarget)) lineFocused(null);
  });
  picker.addEventListener("submit", pickTyped);
  picker.addEventListener("keydown", pickerKeys);
  picker.addEventListener("click", (e) => {
    const chosen = e.target.closest("button[data-emoji]");
    if (chosen) pickReaction(chosen.dataset.emoji);
  });
  picker.querySelector(".cancel").addEventListener("click", () => closePicker());
  $("confirm-yes").addEventListener("click", () => $("confirm").close("yes"));
  $("confirm-no").addEventListener("click", () => $("confirm").close());
  $("alert-close").addEventListener("click", () => hideBanner("alert"));
  $("notice-close").addEventListener("click", () => hideBanner("notice"));
  document.addEventListener("visibilitychange", () => {
    if (document.hidden || !state.me) return;
    if (state.active) markRead(conversation(state.active));
    followRole();
  });
  window.addEventListener("focus", () => {
    if (state.me) followRole();
  });
}

/** The controls of *Room settings*, *Delete room* and *Administration*, and their
 * dialogs (each the page's form dialog: openFormDialog, formDialogClosed). */
function wireAdministration() {
  const closing = (name) => () => $(`${name}-dialog`).close();
  $("room-settings").addEventListener("click", openRoomDialog);
  $("room-form").addEventListener("submit", saveRoom);
  $("room-cancel").addEventListener("click", closing("room"));
  $("room-dialog").addEventListener("close", () => {
    inviteCodesFor(null); // the code made is shown only while the dialog is open
    formDialogClosed("room", backToRoom);
  });
  $("invite-code-form").addEventListener("submit", makeInviteCode);
  const copying = (field, what) => () =>
    copyText($(field).value, $(field), what, "invite-code-copied");
  $("invite-code-copy").addEventListener("click", copying("invite-code-value", "the code"));
  $("invite-code-copy-link").addEventListener("click", copying("invite-code-link", "the link"));
  $("join-code-open").addEventListener("click", () => openJoinCode());
  $("join-code-form").addEventListener("submit", joinWithCode);
  $("join-code-cancel").addEventListener("click", closing("join-code"));
  $("join-code-dialog").addEventListener("close", () => {
    $("join-code-from-link").hidden = true;
    formDialogClosed("join-code", "join-code-open");
  });
  window.addEventListener("hashchange", offerLinkedJoin);
  $("room-delete-open").addEventListener("click", deleteFromSettings);
  $("room-delete-form").addEventListener("submit", deleteRoom);
  $("room-delete-cancel").addEventListener("click", closing("room-delete"));
  $("room-delete-dialog").addEventListener("close", () =>
    formDialogClosed("room-delete", () => roomDeleting?.back()),
  );
  $("show-admin").addEventListener("click", toggleAdmin);
  $("admin-close").addEventListener("click", toggleAdmin);
  $("admin-panel").addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    e.preventDefault();
    toggleAdmin();
  });
  $("admin-refresh").addEventListener("click", refreshAdmin);
  $("admin-audit-older").addEventListener("click", () => loadAudit(true));
  $("admin-user-form").addEventListener("submit", findAdminUsers);
  $("admin-room-form").addEventListener("submit", findAdminRooms);
  $("ban-duration").addEventListener("change", banChoiceChanged);
  $("ban-form").addEventListener("submit", banUser);
  $("ban-cancel").addEventListener("click", closing("ban"));
  $("ban-dialog").addEventListener("close", () => {
    formDialogClosed("ban", backToUsers);
    banChoiceChanged();
  });
  $("user-delete-form").addEventListener("submit", deleteUser);
  $("user-delete-cancel").addEventListener("click", closing("user-delete"));
  $("user-delete-dialog").addEventListener("close", () =>
    formDialogClosed("user-delete", backToUsers),
  );
}

wire();
renderNotifySetting();
const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) start(saved);
else showLogin("");
