// The app's own line icons and the small icon-only buttons built from them (rename,
// delete, copy, edit, regenerate). The markup is constant, never model output.

const ICONS = {
  rename: '<path d="M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4"/>',
  delete: '<path d="M5 7h14M10 7V4h4v3M7 7l1 13h8l1-13"/>',
  copy: '<rect x="9" y="9" width="11" height="11" rx="2"/><path d="M5 15V5a1 1 0 0 1 1-1h9"/>',
  edit: '<path d="M4 20h4L19 9l-4-4L4 16v4z"/>',
  regenerate: '<path d="M20 12a8 8 0 1 1-2.3-5.6M20 4v5h-5"/>',
};

export function svgIcon(doc, name) {
  const svg = doc.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  svg.innerHTML = ICONS[name]; // constant markup of the app itself
  return svg;
}

/** A labelled button showing icon `name`, with classes `icon-btn small <cls>`. */
export function iconButton(doc, name, label, cls) {
  const b = doc.createElement('button');
  b.type = 'button';
  b.className = `icon-btn small ${cls}`;
  b.setAttribute('aria-label', label);
  b.title = label;
  b.append(svgIcon(doc, name));
  return b;
}
