// Browser sessions in a real browser: the printed sign-in address works once, and Sign out ends
// the session on the server (not just in this tab).
import { describe, expect } from 'vitest';
import { appTest, screenshot } from './harness';

const it = appTest({ context: { viewport: { width: 1360, height: 860 }, colorScheme: 'light' } });

describe('browser session', () => {
  it('Sign out ends the session; the used sign-in address does not work again', async ({ app: { page, served, call } }) => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByText(/session #\d+ \(signed in by server start\)/).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('alert').getByText(/Your session has ended/).waitFor();
    await screenshot(page, '12-signed-out');
    await expect(call('app.info')).rejects.toThrow(/needs credentials/);

    const again = await page.goto(served.loginUrl);
    expect(again!.status()).toBe(401);
    expect(await page.textContent('body')).toMatch(/already used or has expired/);
  });
});
