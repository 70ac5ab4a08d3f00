// The bar above the messages: the conversation's title (also the page title), its model
// field and the system-prompt panel with the button that shows it and marks it in use.

/**
 * doc: the document (for its title and focused element). title, model, modelList (the
 * model field's <datalist>), system, toggleSystem, systemPanel: the elements.
 */
export function createHeader({ doc, title, model, modelList, system, toggleSystem, systemPanel }) {
  const markSystem = (text) => toggleSystem.classList.toggle('on', !!(text && text.trim()));

  return {
    /** Shows conversation `conv` (or none); fields being edited are left alone. */
    render(conv) {
      title.textContent = (conv && conv.title) || 'New chat';
      doc.title = conv && conv.title ? `${conv.title} · chatd` : 'chatd';
      if (doc.activeElement !== model) model.value = (conv && conv.model) || '';
      if (doc.activeElement !== system) system.value = (conv && conv.system) || '';
      markSystem(conv && conv.system);
    },
    /** Offers these model ids as suggestions in the model field. */
    setModels(ids) {
      modelList.replaceChildren(...ids.map((id) => {
        const o = doc.createElement('option');
        o.value = id;
        return o;
      }));
    },
    /** The system prompt was typed into. */
    markSystem,
    /** Shows or hides the system-prompt panel, focusing the prompt when it opens. */
    toggleSystemPanel() {
      const show = systemPanel.hidden;
      systemPanel.hidden = !show;
      toggleSystem.setAttribute('aria-expanded', String(show));
      if (show) system.focus();
    },
  };
}
