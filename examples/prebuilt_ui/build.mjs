// Bundles the two pages into dist/ with esbuild: dist/ui (MFA) and dist/legacy.
// `npm ci && npm run build`; the FastAPI example serves dist/ when it exists.
import { build } from "esbuild";
import { mkdir, rm, writeFile } from "node:fs/promises";

const pages = {
    ui: { entry: "src/mfa.jsx", title: "st-twofactor: SuperTokens' prebuilt MFA UI" },
    legacy: { entry: "src/legacy.jsx", title: "st-twofactor: the legacy prebuilt 2FA flow" },
};

await rm("dist", { recursive: true, force: true });
for (const [name, page] of Object.entries(pages)) {
    await mkdir(`dist/${name}/assets`, { recursive: true });
    await build({
        entryPoints: [page.entry],
        bundle: true,
        minify: true,
        format: "iife",
        target: "es2020",
        jsx: "automatic",
        define: { "process.env.NODE_ENV": '"production"' },
        outfile: `dist/${name}/assets/app.js`,
        logLevel: "warning",
    });
    await writeFile(
        `dist/${name}/index.html`,
        `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title}</title>
</head>
<body>
<div id="root"></div>
<script src="/${name}/assets/app.js"></script>
</body>
</html>
`
    );
}
console.log("built dist/ui and dist/legacy");
