declare module "*.css";

/** File name of the KaTeX stylesheet in `chunks/` (set by scripts/build.mjs). */
declare const __AMPHI_KATEX_CSS__: string;
