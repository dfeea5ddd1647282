// Injected by the bundler from package.json; tests run from source and see "dev".
declare const __OFFHOST_VERSION__: string | undefined;
export const APP_VERSION: string = typeof __OFFHOST_VERSION__ === 'string' ? __OFFHOST_VERSION__ : 'dev';
