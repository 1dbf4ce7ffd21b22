// The demo's auto chat: while its switch is on, posts one of the room's
// sentences every `baseMs` or so (0.75x..1.25x, so several pages do not post
// in step). Stops when the room closes.
import { uuid4 } from "../lib/socket.js";

export function createAutoChat({ switchEl, chat, post, baseMs = 4000 }) {
  let timer = null;
  let index = Math.floor(Math.random() * 1000);

  function stop() {
    if (timer) clearTimeout(timer);
    timer = null;
    switchEl.checked = false;
  }

  function schedule() {
    timer = setTimeout(async () => {
      if (!switchEl.checked) return;
      if (chat.joined && chat.open && chat.sentences.length > 0) {
        const text = chat.sentences[index % chat.sentences.length];
        index += 1;
        await post(text, uuid4());
      }
      if (switchEl.checked) schedule();
    }, baseMs * (0.75 + Math.random() * 0.5));
  }

  switchEl.addEventListener("change", () => {
    if (switchEl.checked && chat.open) schedule();
    else stop();
  });

  // Switched on once, at the first join, when the page asks for it (?auto_chat).
  function startOnce() {
    if (switchEl.dataset.started) return;
    switchEl.dataset.started = "1";
    switchEl.checked = true;
    schedule();
  }

  return { stop, startOnce };
}
