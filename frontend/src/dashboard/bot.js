// The demo bot of `?auto_vote=<ms>`: it sticks to one province for a few
// seconds, then moves on; votes come at random intervals spread around the
// given mean (0.5x..1.5x), about 80 % up and 20 % down. Every vote really goes
// to the server, and a rate-limited ack makes it wait the advertised time.
const PROVINCE_MIN_MS = 3000;
const PROVINCE_MAX_MS = 7000;
const UP_SHARE = 0.8;

export class VoteBot {
  constructor({ meanMs, pickProvince, vote, onProvince = () => {} }) {
    this.meanMs = meanMs;
    this.pickProvince = pickProvince; // () => code or null
    this.vote = vote; // async (code, direction) => ack envelope
    this.onProvince = onProvince;
    this.running = false;
    this.timer = null;
    this.province = null;
    this.provinceUntil = 0;
    this.stats = { up: 0, down: 0, rejected: 0 };
  }

  start() {
    if (this.running) return;
    this.running = true;
    this._schedule(this._interval());
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = null;
  }

  _interval() {
    return Math.round(this.meanMs * (0.5 + Math.random()));
  }

  _schedule(ms) {
    clearTimeout(this.timer);
    if (this.running) this.timer = setTimeout(() => this._tick(), ms);
  }

  async _tick() {
    if (!this.running) return;
    const now = Date.now();
    if (!this.province || now >= this.provinceUntil) {
      const next = this.pickProvince(this.province);
      if (next) {
        this.province = next;
        this.provinceUntil = now + PROVINCE_MIN_MS + Math.random() * (PROVINCE_MAX_MS - PROVINCE_MIN_MS);
        this.onProvince(next);
      }
    }
    if (!this.province) {
      this._schedule(1000);
      return;
    }
    const direction = Math.random() < UP_SHARE ? "up" : "down";
    let wait = this._interval();
    try {
      const reply = await this.vote(this.province, direction);
      if (reply && reply.ok) this.stats[direction] += 1;
      else {
        this.stats.rejected += 1;
        const code = reply?.error?.code;
        const retry = Number(reply?.error?.retry_after);
        if (code === "rate_limited" && Number.isFinite(retry) && retry > 0) wait = Math.max(wait, retry * 1000);
        else if (code === "closed") wait = Math.max(wait, 5000);
        else if (code === "not_found") this.province = null;
      }
    } catch {
      wait = Math.max(wait, 2000);
    }
    this._schedule(wait);
  }
}
