'use strict';
// Loads the native addon: `heroa.<platform>-<arch>[-<abi>].node` next to the
// package (a local build), else napi's per-platform package `@heroa/sdk-<triple>`.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

function triple() {
  const { platform, arch } = process;
  if (platform === 'linux') {
    const glibc = process.report?.getReport?.().header?.glibcVersionRuntime;
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`;
  }
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function load() {
  const t = triple();
  const local = join(__dirname, '..', `heroa.${t}.node`);
  if (existsSync(local)) return require(local);
  try {
    return require(`@heroa/sdk-${t}`);
  } catch (e) {
    throw new Error(
      `@heroa/sdk has no native addon for ${t}: install @heroa/sdk-${t}, or build one with \`npm run build\` (${e.message})`,
    );
  }
}

module.exports = load();
