//! Row counts of the database's b-trees: what `fieldcase status` shows of
//! the tables, and a way to read every page (every segment) of a vault.
use super::{Vault, VaultError, META_TABLE};

/// Whether a b-tree is a table or an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeKind {
    Table,
    Index,
}

/// One b-tree of the database and the rows counted through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeCount {
    pub kind: TreeKind,
    /// The table's or the index's name.
    pub name: String,
    /// The table it belongs to (its own name for a table).
    pub table: String,
    pub rows: u64,
}

impl Vault {
    /// Count the rows of every table, and of every index's table through
    /// that index (SQLite's own internal indexes aside), by name. Counting
    /// through each b-tree reads every one of its pages, so this reads the
    /// whole database: a segment that cannot be decrypted fails it.
    pub fn tree_counts(&self) -> Result<Vec<TreeCount>, VaultError> {
        self.count_trees("('table', 'index')")
    }

    /// Row counts of the tables that hold data (the vault's own metadata
    /// and SQLite's internal tables aside), by name. Indexes are not read.
    pub fn table_counts(&self) -> Result<Vec<(String, u64)>, VaultError> {
        Ok(self
            .count_trees("('table')")?
            .into_iter()
            .filter(|t| !t.name.starts_with("sqlite_") && t.name != META_TABLE)
            .map(|t| (t.name, t.rows))
            .collect())
    }

    /// [`Self::tree_counts`] of the b-trees whose type is in `types`, an
    /// SQL list of constants.
    fn count_trees(&self, types: &str) -> Result<Vec<TreeCount>, VaultError> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!(
            "SELECT type, name, tbl_name FROM sqlite_schema WHERE type IN {types} AND sql IS NOT NULL ORDER BY name"
        ))?;
        let trees: Vec<(String, String, String)> =
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?;
        let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
        let mut out = Vec::with_capacity(trees.len());
        for (kind, name, table) in trees {
            // Names come from sqlite_schema and are quoted, not user input.
            let (kind, sql) = if kind == "index" {
                (TreeKind::Index, format!("SELECT count(*) FROM {} INDEXED BY {}", quote(&table), quote(&name)))
            } else {
                (TreeKind::Table, format!("SELECT count(*) FROM {}", quote(&name)))
            };
            let rows: i64 = conn.query_row(&sql, [], |r| r.get(0))?;
            out.push(TreeCount { kind, name, table, rows: rows.max(0) as u64 });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::{kv_put, InitOptions, KvApplier, SecretString, VaultOptions};

    /// Every table and index is counted with the rows it holds; the table
    /// counts leave out the vault's metadata and SQLite's internal tables.
    #[test]
    fn trees_and_tables_are_counted() {
        let t = tempfile::tempdir().unwrap();
        let options = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
        let init = InitOptions { name: "counter".into(), role: "caseworker".into(), escrow: None };
        let pass = SecretString::from("counting passphrase".to_owned());
        let mut vault = Vault::init_with(t.path(), &pass, init, Box::new(KvApplier), &options).unwrap();
        vault.commit(vec![kv_put("a", "1"), kv_put("b", "2"), kv_put("c", "3")]).unwrap();
        let trees = vault.tree_counts().unwrap();
        let kv = trees.iter().find(|c| c.name == "kv").expect("the kv table");
        assert_eq!((kv.kind, kv.table.as_str(), kv.rows), (TreeKind::Table, "kv", 3));
        assert!(trees.iter().any(|c| c.name == META_TABLE && c.rows > 0), "{trees:?}");
        let tables = vault.table_counts().unwrap();
        assert!(tables.contains(&("kv".to_owned(), 3)), "{tables:?}");
        assert!(tables.iter().all(|(name, _)| name != META_TABLE && !name.starts_with("sqlite_")), "{tables:?}");
    }
}
