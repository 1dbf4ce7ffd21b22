// The arena page: joins on every (re)connect, draws each `state`, predicts
// your own moves and lets the server's state correct them.
import { connectNamespace, readJsonScript, request } from "../lib/socket.js";
import { gettext, interpolate, ngettext } from "../lib/i18n.js";
import { Board, colourFor } from "./board.js";
import { bindControls } from "./controls.js";
import { Predictor } from "./predict.js";
import { botDirection } from "./bot.js";
import { textSpan } from "../lib/dom.js";

const NAME_KEY = "grid_game.name";

function text(el, value) {
  if (el) el.textContent = String(value);
}

export function startArena() {
  const config = readJsonScript("game-config");
  if (!config) return;
  const arenaSlug = config.arena.slug;
  const els = {
    board: document.getElementById("game-board"),
    pad: document.querySelector(".game-pad"),
    online: document.getElementById("game-online"),
    spectators: document.getElementById("game-spectators"),
    notice: document.getElementById("game-notice"),
    youLine: document.getElementById("game-you-line"),
    scoreboard: document.getElementById("game-scoreboard"),
    highscores: document.getElementById("game-highscores"),
    highscoresEmpty: document.getElementById("game-highscores-empty"),
    live: document.getElementById("game-live"),
    nameForm: document.getElementById("game-name-form"),
    nameInput: document.getElementById("game-name"),
    join: document.getElementById("game-join"),
    leave: document.getElementById("game-leave"),
    bot: document.getElementById("game-bot"),
  };
  const board = new Board(els.board, config.arena.width, config.arena.height);
  const predictor = new Predictor(config.arena.width, config.arena.height);
  const game = {
    youId: null,
    spectating: false,
    lastTick: -1,
    state: null, // last server state
    shown: null, // your position as shown (predicted)
    lastScore: 0,
    open: config.arena.open,
  };
  // Exposed for tests and the curious: read-only view of what the page shows.
  window.gridGame = game;
  let storedName = "";
  try { storedName = localStorage.getItem(NAME_KEY) || ""; } catch { /* private mode */ }
  els.nameInput.value = storedName;

  function notice(message) {
    els.notice.hidden = !message;
    text(els.notice, message || "");
  }

  function you() {
    if (!game.state || !game.youId) return null;
    return game.state.players.find((p) => p.id === game.youId) || null;
  }

  function draw() {
    if (!game.state) return;
    const players = game.state.players.map((p) => (p.id === game.youId && game.shown ? { ...p, ...game.shown } : p));
    board.render(players, game.state.coins, game.youId);
    renderScoreboard(players);
    const me = you();
    if (me) {
      els.youLine.textContent = "";
      const token = document.createElement("span");
      token.className = "game-token game-you-token";
      token.style.setProperty("--player", colourFor(me.id));
      token.textContent = me.symbol;
      els.youLine.append(token, " ", interpolate(ngettext("%(name)s · %(score)s point", "%(name)s · %(score)s points", me.score), { name: me.name, score: me.score }, true));
      if (me.score > game.lastScore) text(els.live, interpolate(ngettext("Coin! You have %(score)s point.", "Coin! You have %(score)s points.", me.score), { score: me.score }, true));
      game.lastScore = me.score;
    } else {
      text(els.youLine, game.spectating ? gettext("You are watching.") : gettext("Joining…"));
    }
    els.join.hidden = Boolean(me) || !game.open;
    els.leave.hidden = !me;
    text(els.online, game.state.players_online);
    text(els.spectators, game.state.spectators ?? 0);
  }

  function renderScoreboard(players) {
    const sorted = [...players].sort((a, b) => b.score - a.score || a.symbol.localeCompare(b.symbol));
    const items = sorted.slice(0, 20).map((p) => {
      const li = document.createElement("li");
      if (p.id === game.youId) li.className = "is-you";
      const token = textSpan("game-token", p.symbol);
      token.style.setProperty("--player", colourFor(p.id));
      li.append(token, textSpan("game-name", p.name), textSpan("game-score", p.score));
      return li;
    });
    els.scoreboard.replaceChildren(...items);
  }

  function renderHighScores(scores) {
    const items = scores.map((s) => {
      const li = document.createElement("li");
      li.append(textSpan("game-name", s.name), textSpan("game-score", s.score));
      li.title = new Date(s.at).toLocaleString();
      return li;
    });
    els.highscores.replaceChildren(...items);
    els.highscoresEmpty.hidden = scores.length > 0;
  }

  function applyState(state) {
    if (state.arena !== arenaSlug || state.tick <= game.lastTick) return;
    game.lastTick = state.tick;
    game.state = state;
    const wasOpen = game.open;
    game.open = state.open !== false;
    const me = you();
    game.shown = me ? predictor.predict(me, state.tick) : null;
    if (!game.open) notice(gettext("This arena has been closed. You can keep watching."));
    else if (!wasOpen) notice("");
    draw();
  }

  const socket = connectNamespace(config.namespace);

  async function join({ spectate = false, name = null } = {}) {
    const payload = { arena: arenaSlug, spectate };
    const chosen = name || storedName;
    if (chosen) payload.name = chosen;
    const response = await request(socket, "join_game", payload);
    if (!response.ok) {
      const code = response.error.code;
      if ((code === "closed" || code === "invalid") && !spectate) {
        notice(response.error.message);
        return join({ spectate: true });
      }
      notice(response.error.message);
      return;
    }
    const data = response.data;
    game.youId = data.you ? data.you.id : null;
    game.spectating = !data.you;
    if (data.you) notice(game.open ? "" : els.notice.textContent);
    predictor.reset(data.arena.width, data.arena.height);
    game.lastTick = -1;
    applyState(data.state);
    renderHighScores(data.high_scores || []);
  }

  // Held keys repeat about 30 times a second; the server allows about 15 moves
  // a second per connection. Keep under it instead of collecting refusals.
  const MIN_MOVE_MS = 75;
  let lastMoveAt = 0;

  async function move(direction) {
    const me = you();
    if (!me || !game.open || !socket.connected) return;
    const now = performance.now();
    if (now - lastMoveAt < MIN_MOVE_MS) return;
    lastMoveAt = now;
    const seq = predictor.add(direction);
    game.shown = predictor.predict(me, game.state.tick);
    draw();
    const response = await request(socket, "move", { direction, seq }, 3000);
    if (response.ok) {
      predictor.ack(seq, response.data.tick);
    } else {
      predictor.drop(seq);
      if (response.error.code === "not_joined") join();
      else if (response.error.code === "closed") notice(response.error.message);
      const current = you();
      if (current) {
        game.shown = predictor.predict(current, game.state.tick);
        draw();
      }
    }
  }

  socket.on("connect", () => join());
  socket.on("state", applyState);
  socket.on("high_scores", (data) => {
    if (data.arena === arenaSlug) renderHighScores(data.scores);
  });
  socket.on("seat_lost", (data) => {
    if (data.arena !== arenaSlug) return;
    game.youId = null;
    game.spectating = true;
    notice(data.reason === "idle"
      ? gettext("You were idle for too long and lost your seat. Press Play to join again.")
      : gettext("You lost your seat. Press Play to join again."));
    draw();
  });

  bindControls({ board: els.board, pad: els.pad, onMove: move });
  els.join.addEventListener("click", () => join());
  els.leave.addEventListener("click", async () => {
    await request(socket, "leave_game", {});
    join({ spectate: true });
  });
  els.nameForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = els.nameInput.value.trim().slice(0, 16);
    if (!name) return;
    storedName = name;
    try { localStorage.setItem(NAME_KEY, name); } catch { /* private mode */ }
    join({ name });
  });

  if (config.auto_move) {
    els.bot.hidden = false;
    els.bot.textContent = interpolate(
      ngettext("demo bot: a move every %(ms)s millisecond", "demo bot: a move every %(ms)s milliseconds", config.auto_move),
      { ms: config.auto_move }, true,
    );
    setInterval(() => {
      const me = you();
      if (!me || !game.state) return;
      const direction = botDirection(game.shown ? { ...me, ...game.shown } : me, game.state.coins);
      if (direction) move(direction);
    }, config.auto_move);
  }
}
