// Light, dark, or what the operating system says (the default). The choice is kept in this
// browser (localStorage) and applied as data-theme on <html>, which styles.css reads.
export type ThemeChoice = 'system' | 'light' | 'dark';
const KEY = 'offhost.theme';

export function savedTheme(): ThemeChoice {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system';
  }
}

export function applyTheme(choice: ThemeChoice = savedTheme()): void {
  const root = document.documentElement;
  if (choice === 'system') delete root.dataset.theme;
  else root.dataset.theme = choice;
}

export function setTheme(choice: ThemeChoice): void {
  try {
    if (choice === 'system') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, choice);
  } catch {
    // storage refused (private mode): the choice lasts until the page is reloaded
  }
  applyTheme(choice);
}
