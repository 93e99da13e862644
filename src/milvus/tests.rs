use super::*;

#[test]
fn parses_host_port_and_collection() {
    let u = BackendUrl::parse("milvus://127.0.0.1:19530/klue_mrc").unwrap();
    assert_eq!(u.host, "127.0.0.1");
    assert_eq!(u.port, 19530);
    assert_eq!(u.collection, "klue_mrc");
    assert_eq!(u.to_string(), "milvus://127.0.0.1:19530/klue_mrc");
    let v6 = BackendUrl::parse("milvus://[::1]:19530/c").unwrap();
    assert_eq!(v6.address(), "[::1]:19530");
}

#[test]
fn bad_urls_are_named_with_the_reason() {
    for (url, why) in [
        ("http://h:1/c", "scheme"),
        ("milvus://h:1", "/COLLECTION"),
        ("milvus://h/c", ":PORT"),
        ("milvus://h:0/c", "port number"),
        ("milvus://h:99999/c", "port number"),
        ("milvus://:1/c", "no host"),
        ("milvus://h:1/1abc", "collection name"),
        ("milvus://h:1/a-b", "collection name"),
        ("milvus://h:1/", "collection name"),
    ] {
        let e = BackendUrl::parse(url).unwrap_err().to_string();
        assert!(e.contains(url) && e.contains(why), "{url}: {e}");
    }
}
