//! The task's model: a built-in network by its number, or a requester's TorchScript module by its CID, fetched and
//! checked against the images and classes this worker has before it stakes on the task or trains it.

use crate::{Error, Result, round};
use alloy::primitives::B256;
use tessera_storage::{Cid, ContentStore};
use tessera_train::{
    ArchitectureId, InputSpec, MAX_SCRIPT_BYTES, MAX_SCRIPT_PARAMETERS, ScriptId, ScriptLimits, register_script,
};

/// The architecture `word` names, fetching and checking a module against `input` the first time.
pub async fn architecture(store: &dyn ContentStore, word: B256, input: InputSpec) -> Result<ArchitectureId> {
    let Some(id) = ScriptId::from_word(word.0) else { return round::architecture_of(word) };
    if let Ok(known) = ArchitectureId::from_bytes32(word.0) {
        return Ok(known);
    }
    let cid = Cid::from_digest(id.0);
    let bytes = store.get(&cid, MAX_SCRIPT_BYTES).await?;
    let limits = ScriptLimits { input, max_parameters: MAX_SCRIPT_PARAMETERS };
    let checked = tokio::task::spawn_blocking(move || register_script(id, &bytes, &limits))
        .await
        .map_err(|e| Error::Invalid(format!("checking the task's module: {e}")))?;
    checked.map_err(|e| Error::Task(format!("the task's TorchScript module {cid} does not fit this worker: {e}")))
}

/// Refuses a model that does not take images of `input`'s shape or has other classes.
pub fn check_takes(arch: ArchitectureId, input: &InputSpec, what: &str) -> Result<()> {
    let takes = arch.input();
    let shape = |i: &InputSpec| [i.channels, i.height, i.width];
    if shape(&takes) != shape(input) || takes.classes != input.classes {
        return Err(Error::Task(format!(
            "the task's model {arch} takes {:?} images in {} classes; {what} gives {:?} in {}",
            shape(&takes),
            takes.classes,
            shape(input),
            input.classes
        )));
    }
    Ok(())
}
