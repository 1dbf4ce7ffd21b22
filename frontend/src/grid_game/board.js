// Draws the arena into the server-rendered role="grid": one gridcell per
// cell, symbols and coins as text (never HTML), sized to fit the window.
import { gettext, interpolate } from "../lib/i18n.js";

// A stable colour per public player id.
export function colourFor(id) {
  let h = 0;
  for (let i = 0; i < id.length; i += 1) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return `hsl(${h % 360} 65% 38%)`;
}

export class Board {
  constructor(el, width, height) {
    this.el = el;
    this.width = width;
    this.height = height;
    this.cells = [];
    for (const row of el.querySelectorAll('[role="row"]')) {
      this.cells.push([...row.querySelectorAll('[role="gridcell"]')]);
    }
    this.marked = new Set();
    this.fit = this.fit.bind(this);
    window.addEventListener("resize", this.fit);
    window.addEventListener("orientationchange", this.fit);
    this.fit();
  }

  // Square cells as large as the container width and the visible height allow.
  fit() {
    const wrap = this.el.parentElement;
    const available = wrap.clientWidth;
    const top = this.el.getBoundingClientRect().top + window.scrollY;
    const pad = window.innerWidth < 700 ? 170 : 90; // leave room for the move pad on phones
    const viewport = Math.max(160, window.innerHeight - Math.min(top, window.innerHeight * 0.35) - pad);
    const size = Math.max(12, Math.floor(Math.min(available / this.width, viewport / this.height, 64)));
    this.el.style.setProperty("--cell", `${size}px`);
    this.el.style.setProperty("--cols", String(this.width));
  }

  cell(x, y) {
    return this.cells[y] && this.cells[y][x];
  }

  // players: [{id, symbol, name, x, y, score}], coins: [{x, y}], youId: string|null
  render(players, coins, youId) {
    const content = new Map();
    const key = (x, y) => y * this.width + x;
    for (const coin of coins) content.set(key(coin.x, coin.y), { coin: true, players: [] });
    for (const p of players) {
      const k = key(p.x, p.y);
      if (!content.has(k)) content.set(k, { coin: false, players: [] });
      content.get(k).players.push(p);
    }
    for (const k of this.marked) {
      if (!content.has(k)) this.clear(k % this.width, Math.floor(k / this.width));
    }
    this.marked = new Set(content.keys());
    for (const [k, item] of content) this.paint(k % this.width, Math.floor(k / this.width), item, youId);
  }

  clear(x, y) {
    const cell = this.cell(x, y);
    if (!cell) return;
    cell.textContent = "";
    cell.className = "game-cell";
    cell.style.removeProperty("--player");
    cell.removeAttribute("aria-label");
    cell.removeAttribute("title");
  }

  paint(x, y, item, youId) {
    const cell = this.cell(x, y);
    if (!cell) return;
    const players = item.players;
    const mine = players.find((p) => p.id === youId);
    const shown = mine || players[0];
    cell.className = "game-cell";
    cell.textContent = "";
    if (shown) {
      const token = document.createElement("span");
      token.className = "game-token";
      token.textContent = shown.symbol;
      cell.appendChild(token);
      if (players.length > 1) {
        const more = document.createElement("span");
        more.className = "game-more";
        more.textContent = `+${players.length - 1}`;
        cell.appendChild(more);
      }
      cell.classList.add("has-player");
      cell.style.setProperty("--player", colourFor(shown.id));
      if (mine) cell.classList.add("is-you");
      const names = players.map((p) => (p.id === youId ? interpolate(gettext("%(name)s (you)"), { name: p.name }, true) : p.name));
      cell.setAttribute("aria-label", names.join(", "));
      cell.title = names.join(", ");
    } else if (item.coin) {
      const coin = document.createElement("span");
      coin.className = "game-coin";
      coin.textContent = "●";
      cell.appendChild(coin);
      cell.classList.add("has-coin");
      cell.setAttribute("aria-label", gettext("coin"));
      cell.title = gettext("coin");
    }
  }
}
