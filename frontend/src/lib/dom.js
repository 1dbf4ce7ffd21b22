// Small DOM builders. Text always goes in through textContent, never as HTML.

// <span class="className">text</span>
export function textSpan(className, text) {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = String(text);
  return span;
}
