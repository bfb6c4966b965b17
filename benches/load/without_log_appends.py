# Turns a checkout (argv[1]) into the variant without transparency-log appends (no leaf, no receipt;
# audit events stay), for benches/load/issuance_ab.sh, which builds it in a temporary worktree.
import sys
root=sys.argv[1]
p=root+'/src/licences/issue.rs'
s=open(p).read()
old="""        let sequenced = crate::audit::rounds::append_into(
            state,
            &mut tx,
            &mut w,
            &row.id,
            leaf.to_bytes(),
            now,
        )
        .await?;"""
assert old in s
s=s.replace(old,"""        let _ = leaf;
        let sequenced: Option<crate::audit::sealer::Sequenced> = None;""")
open(p,'w').write(s)
p=root+'/src/http/api.rs'
s=open(p).read()
old="""    seal_unless_sequenced(state, std::slice::from_ref(&body)).await?;
    attach_receipt(state, &mut body).await?;
    Ok(body)"""
assert old in s
s=s.replace(old,"""    let _ = state;
    body["receipt"] = Value::Null;
    Ok(body)""")
open(p,'w').write(s)
