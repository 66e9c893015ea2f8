//! The codebase's shape, checked: no two modules import each other (directly or round a longer
//! circle), and only the configuration module reads the environment.
//!
//! Modules are the crates' files (`a/b.rs` and `a/b/mod.rs` are `a::b`); a module "imports" another
//! when its code (outside comments and its `#[cfg(test)]` part) names a path into it with `crate::`
//! or `super::`. Two modules are compared as the children of their nearest common ancestor that hold
//! them: `collect::record` naming `db::delta` is `collect` -> `db`, and `webex::client` naming
//! `webex::http` is `client` -> `http` inside `webex`. Naming an ancestor (its re-exports) is allowed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates checked, by their source folder.
const CRATES: &[&str] = &[
    "shared/webex-quality/src",
    "shared/webex-sim/src",
    "cli/src",
    "functions/collector/src",
    "functions/oauth-redirect/src",
    "functions/site-builder/src",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "bin") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `a/b.rs`, `a/b/mod.rs` -> `["a", "b"]`; `lib.rs`, `main.rs` -> `[]`.
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The code of a file without comments and without its `#[cfg(test)]` module.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path the code names from `crate::` or `super::`, resolved to a path from the crate root
/// (grouped imports `crate::{a::X, b::Y}` give one path each).
fn named_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let bytes = code.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut at = 0;
    while at < bytes.len() {
        if !code.is_char_boundary(at) {
            at += 1;
            continue;
        }
        let rest = &code[at..];
        let start_ok = at == 0 || !ident(bytes[at - 1]);
        let (base, len) = if start_ok && rest.starts_with("crate::") {
            (Vec::new(), "crate::".len())
        } else if start_ok && rest.starts_with("super::") {
            // `super` is the parent (of `a/b.rs` and of `a/b/mod.rs` alike).
            let mut base: Vec<String> = module.to_vec();
            base.pop();
            let mut len = "super::".len();
            while code[at + len..].starts_with("super::") {
                base.pop();
                len += "super::".len();
            }
            (base, len)
        } else {
            at += 1;
            continue;
        };
        for path in expand(&code[at + len..]) {
            let mut full = base.clone();
            full.extend(path);
            paths.push(full);
        }
        at += len;
    }
    paths
}

/// The paths a use-tree names: `a::b::C` is one; `a::{b::C, d}` (nested groups too) is several.
fn expand(text: &str) -> Vec<Vec<String>> {
    let mut prefix = Vec::new();
    let mut rest = text;
    loop {
        if let Some(group) = rest.strip_prefix('{') {
            // Items up to the matching brace, split at the commas outside inner groups.
            let (mut depth, mut start, mut out) = (0, 0, Vec::new());
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.push(&group[start..i]);
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(&group[start..i]);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            return out
                .into_iter()
                .flat_map(|item| expand(item.trim()))
                .map(|path| prefix.iter().cloned().chain(path).collect())
                .collect();
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        prefix.push(rest[..end].to_owned());
        match rest[end..].strip_prefix("::") {
            Some(next) => rest = next,
            None => break,
        }
    }
    vec![prefix]
}

/// The import graph of one crate: for each parent module, edges between its children.
fn sibling_edges(root: &Path) -> BTreeMap<Vec<String>, BTreeSet<(String, String)>> {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(root, f)).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<(String, String)>> = BTreeMap::new();
    for file in &files {
        let module = module_of(root, file);
        let text = std::fs::read_to_string(file).unwrap();
        for mut path in named_paths(&code(&text), &module) {
            // The module the path reaches: its longest prefix that is a module.
            while !path.is_empty() && !modules.contains(&path) {
                path.pop();
            }
            let common = module.iter().zip(&path).take_while(|(a, b)| a == b).count();
            if common == path.len() || common == module.len() {
                continue; // an ancestor (or the module itself), or a module's own child
            }
            edges
                .entry(module[..common].to_vec())
                .or_default()
                .insert((module[common].clone(), path[common].clone()));
        }
    }
    edges
}

/// The circles among `edges` (each as its modules in order), found by depth-first search.
fn circles(edges: &BTreeSet<(String, String)>) -> Vec<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges {
        next.entry(from).or_default().push(to);
    }
    let mut found = Vec::new();
    let mut seen_cycles = BTreeSet::new();
    for start in next.keys() {
        let mut stack = vec![(*start, vec![*start])];
        while let Some((at, trail)) = stack.pop() {
            for to in next.get(at).into_iter().flatten() {
                if to == start {
                    let mut key: Vec<String> = trail.iter().map(|s| (*s).to_owned()).collect();
                    key.sort();
                    if seen_cycles.insert(key) {
                        let mut circle: Vec<String> =
                            trail.iter().map(|s| (*s).to_owned()).collect();
                        circle.push((*start).to_owned());
                        found.push(circle);
                    }
                } else if !trail.contains(to) && trail.len() < 12 {
                    let mut longer = trail.clone();
                    longer.push(to);
                    stack.push((to, longer));
                }
            }
        }
    }
    found
}

#[test]
fn no_two_modules_import_each_other() {
    let mut problems = Vec::new();
    for krate in CRATES {
        for (parent, edges) in sibling_edges(&repo().join(krate)) {
            for circle in circles(&edges) {
                problems.push(format!(
                    "{krate} {}: {}",
                    parent.join("::"),
                    circle.join(" -> ")
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "import circles:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_circle_finder_finds_a_planted_circle() {
    // The checker itself: a module pair that names each other, and a longer circle.
    let root = crate::helpers::temp_dir("structure");
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::write(root.join("lib.rs"), "mod a;\nmod b;\nmod c;\n").unwrap();
    std::fs::write(
        root.join("a/mod.rs"),
        "mod x;\nmod y;\nuse crate::b::Thing;\n",
    )
    .unwrap();
    std::fs::write(root.join("a/x.rs"), "use super::y::One;\n").unwrap();
    std::fs::write(
        root.join("a/y.rs"),
        "// use super::x::Not; (a comment)\nuse crate::a::{x::Two, y};\n",
    )
    .unwrap();
    std::fs::write(root.join("b.rs"), "pub fn f() { crate::c::g() }\n").unwrap();
    std::fs::write(
        root.join("c.rs"),
        "use crate::{a::Thing};\n#[cfg(test)]\nmod tests { use crate::b::f; }\n",
    )
    .unwrap();
    let edges = sibling_edges(&root);
    let top = circles(&edges[&Vec::new()]);
    assert_eq!(top, vec![vec!["a", "b", "c", "a"]], "{edges:?}");
    let inner = circles(&edges[&vec!["a".to_owned()]]);
    assert_eq!(inner, vec![vec!["x", "y", "x"]], "{edges:?}");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn only_the_configuration_module_reads_the_environment() {
    let mut readers = Vec::new();
    for krate in ["shared/webex-quality/src", "cli/src", "functions"] {
        let mut files = Vec::new();
        rust_files(&repo().join(krate), &mut files);
        for file in files {
            let relative = file.strip_prefix(repo()).unwrap().display().to_string();
            if relative.starts_with("shared/webex-quality/src/config/") {
                continue;
            }
            let text = code(&std::fs::read_to_string(&file).unwrap());
            if text.contains("env::var") || text.contains("env::vars") {
                readers.push(relative);
            }
        }
    }
    assert!(
        readers.is_empty(),
        "these read the environment themselves; read settings in `config`: {readers:?}"
    );
}

#[test]
fn tests_and_tools_write_no_sql_and_the_code_builds_none_with_format() {
    // Tests and benchmarks read the database through its typed queries (`Database::totals` and the
    // like), so a schema change does not ripple into them; the code never pastes values into SQL.
    let mut found = Vec::new();
    for dir in ["tests", "bench"] {
        let mut files = Vec::new();
        rust_files(&repo().join(dir), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let relative = file.strip_prefix(repo()).unwrap().display().to_string();
            if relative == "tests/e2e/structure.rs" {
                continue;
            }
            for keyword in [
                "\"SELECT ",
                "SELECT count(",
                "INSERT INTO",
                "DELETE FROM",
                "UPDATE meetings",
            ] {
                if text.contains(keyword) {
                    found.push(format!("{relative}: {keyword}"));
                }
            }
        }
    }
    for krate in CRATES {
        let mut files = Vec::new();
        rust_files(&repo().join(krate), &mut files);
        for file in files {
            let text = code(&std::fs::read_to_string(&file).unwrap());
            for (at, _) in text.match_indices("format!(") {
                let call = &text[at..text.len().min(at + 120)];
                let upper = call.to_ascii_uppercase();
                if [
                    "\"SELECT ",
                    "\"INSERT ",
                    "\"UPDATE ",
                    "\"DELETE ",
                    "\"PRAGMA ",
                ]
                .iter()
                .any(|k| upper.contains(k))
                {
                    found.push(format!(
                        "{}: {}",
                        file.display(),
                        call.lines().next().unwrap_or("")
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "SQL outside the database module's typed queries: {found:#?}"
    );
}

/// Every Markdown file of the repository (not under `target/` or a dependency folder).
fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(
                name.as_str(),
                "target" | "node_modules" | ".git" | "corpus" | "artifacts"
            ) {
                markdown_files(&path, out);
            }
        } else if name.ends_with(".md") {
            out.push(path);
        }
    }
}

/// The targets of the Markdown links `[text](target)` in `text`, and the relative paths it names in
/// backticks that climb out of their folder (`` `../<folder>/<file>` ``): both must stay inside the
/// repository; a link must also name a file (a quoted path may be a URL of the published site).
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let end = after.find(')').unwrap_or(after.len());
        targets.push(after[..end].trim().to_owned());
        rest = &after[end..];
    }
    for (n, quoted) in text.split('`').enumerate() {
        if n % 2 == 1 && quoted.starts_with("../") && !quoted.contains(char::is_whitespace) {
            targets.push(format!("{QUOTED}{quoted}"));
        }
    }
    targets
}

/// Marks a path quoted in backticks among [`link_targets`]'s answers.
const QUOTED: &str = "quoted:";

/// `path` with `.` and `..` taken out, without asking the file system (a path that leaves the
/// repository is caught whether or not it exists on this machine).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The links among `targets`, found in `file`, that leave the repository or name no file.
fn broken_links(file: &Path, targets: &[String]) -> Vec<String> {
    let root = lexical(&repo());
    let mut broken = Vec::new();
    for target in targets {
        if target.is_empty()
            || target.starts_with('#')
            || target.contains("://")
            || target.starts_with("mailto:")
            || !target.contains(['/', '.'])
            || target.contains("::")
        {
            continue; // a web page, an anchor, or a rustdoc path
        }
        let (quoted, target) = match target.strip_prefix(QUOTED) {
            Some(path) => (true, path),
            None => (false, target.as_str()),
        };
        let path = target.split('#').next().unwrap_or_default();
        let resolved = lexical(&file.parent().unwrap().join(path));
        if !resolved.starts_with(&root) {
            broken.push(format!(
                "{}: {target} (outside the repository)",
                file.display()
            ));
        } else if !quoted && !resolved.exists() {
            broken.push(format!("{}: {target} (no such file)", file.display()));
        }
    }
    broken
}

#[test]
fn documents_link_only_to_files_that_exist_inside_the_repository() {
    let mut broken = Vec::new();
    let mut files = Vec::new();
    markdown_files(&repo(), &mut files);
    assert!(files.len() > 8, "{files:?}");
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        broken.extend(broken_links(file, &link_targets(&text)));
    }
    // Module docs: links in doc comments resolve from the source file, like rustdoc's.
    for krate in CRATES.iter().chain(&["tests/e2e", "bench/src"]) {
        let mut sources = Vec::new();
        rust_files(&repo().join(krate), &mut sources);
        for file in sources {
            let docs: String = std::fs::read_to_string(&file)
                .unwrap()
                .lines()
                .filter(|l| l.trim_start().starts_with("//!") || l.trim_start().starts_with("///"))
                .collect::<Vec<_>>()
                .join("\n");
            broken.extend(broken_links(&file, &link_targets(&docs)));
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_link_checker_finds_a_path_out_of_the_repository_and_a_missing_file() {
    let file = repo().join("docs/architecture.md");
    let targets = link_targets(
        "see [a](decisions.md), [b](../../elsewhere/notes.md), [c](missing.md#x), \
         [d](https://x.y/z.md), [e](#top), `../../../notes/plan.md`, `../README.md`, `../days/x`",
    );
    let broken = broken_links(&file, &targets);
    assert_eq!(broken.len(), 3, "{broken:?}");
    assert!(broken[0].contains("elsewhere") && broken[0].contains("outside the repository"));
    assert!(broken[1].contains("missing.md") && broken[1].contains("no such file"));
    assert!(broken[2].contains("plan.md") && broken[2].contains("outside the repository"));
}
