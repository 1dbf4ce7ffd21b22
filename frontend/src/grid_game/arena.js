// The arena page: joins on every (re)connect, draws each `state`, predicts
// your own moves and lets the server's state correct them. The rules live in
// ./state.js (no DOM, no socket); this binds them to the page and the socket.
import { connectNamespace, readJsonScript, request } from "../lib/socket.js";
import { gettext, interpolate, ngettext } from "../lib/i18n.js";
import { Board, colourFor } from "./board.js";
import { bindControls } from "./controls.js";
import { ArenaState } from "./state.js";
import { textSpan } from "../lib/dom.js";

const NAME_KEY = "grid_game.name";

function text(el, value) {
  if (el) el.textContent = String(value);
}

function token(className, player) {
  const span = textSpan(className, player.symbol);
  span.style.setProperty("--player", colourFor(player.id));
  return span;
}

export function startArena() {
  const config = readJsonScript("game-config");
  if (!config) return;
  const $ = (id) => document.getElementById(id);
  const els = {
    board: $("game-board"), pad: document.querySelector(".game-pad"), online: $("game-online"),
    spectators: $("game-spectators"), notice: $("game-notice"), youLine: $("game-you-line"),
    scoreboard: $("game-scoreboard"), highscores: $("game-highscores"), highscoresEmpty: $("game-highscores-empty"),
    live: $("game-live"), nameForm: $("game-name-form"), nameInput: $("game-name"), join: $("game-join"),
    leave: $("game-leave"), bot: $("game-bot"),
  };
  const { slug, width, height, open } = config.arena;
  const board = new Board(els.board, width, height);
  const game = new ArenaState({ slug, width, height, open });
  // Exposed for tests and the curious: read-only view of what the page shows.
  window.gridGame = game;
  let storedName = "";
  try { storedName = localStorage.getItem(NAME_KEY) || ""; } catch { /* private mode */ }
  els.nameInput.value = storedName;

  function notice(message) {
    els.notice.hidden = !message;
    text(els.notice, message || "");
  }

  function draw() {
    if (!game.state) return;
    board.render(game.players(), game.state.coins, game.youId);
    renderScoreboard();
    const me = game.you();
    if (me) {
      els.youLine.replaceChildren(token("game-token game-you-token", me), " ", interpolate(ngettext("%(name)s · %(score)s point", "%(name)s · %(score)s points", me.score), { name: me.name, score: me.score }, true));
      const gained = game.takeScoreGain();
      if (gained !== null) text(els.live, interpolate(ngettext("Coin! You have %(score)s point.", "Coin! You have %(score)s points.", gained), { score: gained }, true));
    } else {
      text(els.youLine, game.spectating ? gettext("You are watching.") : gettext("Joining…"));
    }
    els.join.hidden = Boolean(me) || !game.open;
    els.leave.hidden = !me;
    text(els.online, game.state.players_online);
    text(els.spectators, game.state.spectators ?? 0);
  }

  function renderScoreboard() {
    els.scoreboard.replaceChildren(...game.scoreboard().map((p) => {
      const li = document.createElement("li");
      if (p.isYou) li.className = "is-you";
      li.append(token("game-token", p), textSpan("game-name", p.name), textSpan("game-score", p.score));
      return li;
    }));
  }

  function renderHighScores(scores) {
    els.highscores.replaceChildren(...scores.map((s) => {
      const li = document.createElement("li");
      li.append(textSpan("game-name", s.name), textSpan("game-score", s.score));
      li.title = new Date(s.at).toLocaleString();
      return li;
    }));
    els.highscoresEmpty.hidden = scores.length > 0;
  }

  function showState(result) {
    if (!result) return;
    if (result.closed) notice(gettext("This arena has been closed. You can keep watching."));
    else if (result.reopened) notice("");
    draw();
  }

  const socket = connectNamespace(config.namespace);

  // Joins refused with `internal` and a retry_after (the arena is moving to
  // another server process) are retried, a few times in a row at most.
  const MAX_JOIN_RETRIES = 10;
  let joinRetries = 0;

  async function join({ spectate = false, name = null } = {}) {
    const payload = { arena: slug, spectate };
    const chosen = name || storedName;
    if (chosen) payload.name = chosen;
    const response = await request(socket, "join_game", payload);
    if (!response.ok) {
      const code = response.error.code;
      notice(response.error.message);
      if ((code === "closed" || code === "invalid") && !spectate) return join({ spectate: true });
      if (code === "internal" && response.error.retry_after && joinRetries < MAX_JOIN_RETRIES) {
        joinRetries += 1;
        setTimeout(() => { if (socket.connected) join({ spectate, name }); }, response.error.retry_after * 1000);
      }
      return;
    }
    joinRetries = 0;
    const data = response.data;
    if (data.you) notice(game.open ? "" : els.notice.textContent);
    showState(game.applyJoin(data));
    renderHighScores(data.high_scores || []);
  }

  async function move(direction) {
    const seq = game.startMove(direction, performance.now(), { connected: socket.connected });
    if (seq === null) return;
    draw();
    const response = await request(socket, "move", { direction, seq }, 3000);
    if (response.ok) {
      game.moveAcked(seq, response.data.tick);
      return;
    }
    game.moveRefused(seq);
    if (response.error.code === "not_joined") join();
    else if (response.error.code === "closed") notice(response.error.message);
    if (game.you()) draw();
  }

  socket.on("connect", () => join());
  socket.on("state", (state) => showState(game.applyState(state)));
  socket.on("high_scores", (data) => {
    if (data.arena === slug) renderHighScores(data.scores);
  });
  socket.on("seat_lost", (data) => {
    if (!game.applySeatLost(data)) return;
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
      const direction = game.botMove();
      if (direction) move(direction);
    }, config.auto_move);
  }
}
