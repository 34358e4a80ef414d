// The package version, kept in one place (package.json is the source; a test keeps them equal).
export const VERSION = '0.1.0';
