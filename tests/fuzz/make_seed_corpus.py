#!/usr/bin/env python3
"""Writes the hand-made seeds of tests/fuzz/corpus/<target>/ (files named seed-*).

The seeds are valid and near-valid inputs in each harness's input format (see
the comment at the top of each tests/fuzz/<target>_fuzz.cc): real frames from
the protocol document and the unit tests, the SigV4 suite's requests, the unit
tests' policies. Files a fuzzing run merged in (named by their SHA-1) are left
alone. Run from anywhere: python3 tests/fuzz/make_seed_corpus.py
"""
import hashlib
import json
import pathlib
import re
import struct

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fuzz" / "corpus"


def write(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed-{name}").write_bytes(data)


# ---- data-channel frames (shared/protocol/session-data-channel.md §4) --------------------------

CAPTURED_SIZE_FRAME = bytes.fromhex(
    "00000074"
    "696e7075745f73747265616d5f64617461" + "20" * 15 +
    "00000001" "000001a222090c1e" "0000000000000001" "0000000000000000"
    "9d5a8cf65457cd03" "ff30baedbede4c9c"
    "f6bd3c835bc7077a5db2645c54dcbc578928568e6ae9266b21fb15a1fc512646"
    "00000003" "00000016"
    "7b22636f6c73223a3132302c22726f7773223a33307d")


def frame(message_type, payload=b"", seq=0, flags=0, payload_type=0, created=1700000000123, schema=1,
          message_id=bytes(range(16)), digest=None, pad=b" "):
    if isinstance(payload, str):
        payload = payload.encode()
    kind = message_type.encode().ljust(32, pad)[:32]
    out = struct.pack(">I", 116) + kind + struct.pack(">IQqQ", schema, created, seq, flags)
    out += message_id[8:] + message_id[:8]
    out += digest if digest is not None else hashlib.sha256(payload).digest()
    out += struct.pack(">II", payload_type, len(payload)) + payload
    return out


def ack_json(message_type, seq):
    return json.dumps({"AcknowledgedMessageType": message_type,
                       "AcknowledgedMessageId": "ff30baed-bede-4c9c-9d5a-8cf65457cd03",
                       "AcknowledgedMessageSequenceNumber": seq, "IsSequentialMessage": True},
                      separators=(",", ":"))


CHANNEL_CLOSED = json.dumps({"MessageId": "11111111-2222-4333-8444-555555555555",
                             "CreatedDate": "2024-10-15T12:00:00.000Z", "DestinationId": "ecs:demo_t_r",
                             "SessionId": "sess-1", "MessageType": "channel_closed", "SchemaVersion": 1,
                             "Output": "bye"}, separators=(",", ":"))

HANDSHAKE_REQUEST = ('{"AgentVersion":"3.3.1142.0","RequestedClientActions":['
                     '{"ActionType":"SessionType","ActionParameters":{"SessionType":"InteractiveCommands",'
                     '"Properties":{"linux":{"commands":"","runAsElevated":false}}}},'
                     '{"ActionType":"KMSEncryption","ActionParameters":'
                     '{"KMSKeyId":"arn:aws:kms:us-east-1:123456789012:key/abc"}}]}')
HANDSHAKE_RESPONSE = ('{"ClientVersion":"1.2.677.0","ProcessedClientActions":['
                      '{"ActionType":"SessionType","ActionStatus":1,"ActionResult":null,"Error":""},'
                      '{"ActionType":"KMSEncryption","ActionStatus":1,"ActionResult":'
                      '{"KMSCipherTextKey":"AQID","KMSCipherTextHash":null},"Error":""}],"Errors":null}')
HANDSHAKE_COMPLETE = ('{"HandshakeTimeToComplete":1234567890123,'
                      '"CustomerMessage":"This session is encrypted using AWS KMS."}')
OPEN_DATA_CHANNEL = ('{"MessageSchemaVersion":"1.0","RequestId":"108f6a6e-0000-4000-8000-000000000001",'
                     '"TokenValue":"FAKE-TOKEN-abcdef0123456789","ClientId":"5942e79a-0000-4000-8000-000000000002",'
                     '"ClientVersion":"1.2.677.0"}')


def client_message_seeds():
    t = "client_message"
    write(t, "captured-size", CAPTURED_SIZE_FRAME)
    write(t, "output", frame("output_stream_data", b"hello\r\n$ ", seq=42, flags=1, payload_type=1))
    write(t, "output-binary", frame("output_stream_data", bytes([0, 1, 0xff, 0x1b]) + b"[0m", seq=3, payload_type=1))
    write(t, "input-empty", frame("input_stream_data", b"", seq=7, payload_type=1))
    write(t, "acknowledge", frame("acknowledge", ack_json("output_stream_data", 7), flags=3))
    write(t, "channel-closed", frame("channel_closed", CHANNEL_CLOSED, flags=3))
    write(t, "handshake-request", frame("output_stream_data", HANDSHAKE_REQUEST, payload_type=5))
    write(t, "handshake-response", frame("input_stream_data", HANDSHAKE_RESPONSE, seq=0, payload_type=6))
    write(t, "exit-code", frame("output_stream_data", "EXIT_CODE: 3", seq=9, payload_type=12))
    write(t, "flag", frame("input_stream_data", bytes([0, 0, 0, 1]), seq=2, payload_type=10))
    write(t, "start-publication", frame("start_publication", created=0, digest=bytes(32)))
    write(t, "pause-publication", frame("pause_publication", b"x", digest=bytes(32)))
    write(t, "nul-padded", frame("output_stream_data", b"x", pad=b"\0"))
    write(t, "bad-digest", frame("output_stream_data", b"x", digest=bytes(32)))
    write(t, "zero-date", frame("output_stream_data", b"x", created=0))
    write(t, "negative-seq", frame("input_stream_data", b"x", seq=-1))
    bad_length = bytearray(frame("output_stream_data", b"abc"))
    bad_length[116:120] = struct.pack(">I", 0xFFFFFFFF)
    write(t, "bad-payload-length", bytes(bad_length))
    write(t, "bad-header-length", struct.pack(">I", 120) + frame("output_stream_data", b"abc")[4:])
    write(t, "short", CAPTURED_SIZE_FRAME[:119])


def record(control, data):
    return bytes([control]) + struct.pack(">H", len(data)) + data


AGENT, CLIENT, REPAIR, TOGGLE, SEND, RESEND_ALL = 0, 1, 2, 4, 8, 0x80


def tick(n):
    return (n & 7) << 4


def sequenced_stream_seeds():
    t = "sequenced_stream"
    out = lambda seq, p=b"o": frame("output_stream_data", p, seq=seq, payload_type=1)  # noqa: E731
    inp = lambda seq, p=b"i": frame("input_stream_data", p, seq=seq, payload_type=1)  # noqa: E731
    write(t, "client-in-order", b"".join(record(CLIENT, out(s, b"%d" % s)) for s in range(4)))
    write(t, "client-reordered", record(CLIENT, out(2)) + record(CLIENT, out(0)) + record(CLIENT, out(1)))
    write(t, "client-duplicates", record(CLIENT, out(1, b"a")) + record(CLIENT, out(1, b"b")) +
          record(CLIENT, out(0)) + record(CLIENT, out(0)))
    write(t, "agent-in-order", record(AGENT, inp(0)) + record(AGENT, inp(1)))
    write(t, "agent-acked", record(AGENT | SEND, frame("acknowledge", ack_json("output_stream_data", 0), flags=3)) +
          record(AGENT | SEND | tick(2), frame("acknowledge", ack_json("output_stream_data", 1), flags=3)))
    write(t, "client-acked", record(CLIENT | SEND, frame("acknowledge", ack_json("input_stream_data", 0), flags=3)) +
          record(CLIENT | SEND | tick(7) | RESEND_ALL, inp(0)))
    write(t, "ack-other-direction",
          record(AGENT | SEND, frame("acknowledge", ack_json("input_stream_data", 0), flags=3)))
    write(t, "retransmit", record(AGENT | SEND, b"") + record(AGENT | tick(3), b"") + record(AGENT | tick(7), b"") +
          record(AGENT | RESEND_ALL, b""))
    write(t, "not-accepting", record(CLIENT | TOGGLE, out(0)) + record(CLIENT | TOGGLE, out(0)))
    write(t, "window", record(CLIENT, out(17)) + record(CLIENT, out(16)))
    write(t, "reorder-bytes", b"".join(record(CLIENT, out(s, b"z" * 1000)) for s in range(1, 7)))
    write(t, "wrong-direction", record(AGENT, out(0)))
    write(t, "negative-seq", record(CLIENT, out(-5)))
    write(t, "channel-closed", record(CLIENT, frame("channel_closed", CHANNEL_CLOSED, flags=3)))
    write(t, "publication", record(CLIENT, frame("pause_publication", created=0, digest=bytes(32))) +
          record(CLIENT, frame("start_publication", created=0, digest=bytes(32))))
    write(t, "bad-ack-json", record(AGENT | SEND, frame("acknowledge", b'{"AcknowledgedMessageType":1}', flags=3)))
    write(t, "repaired", record(CLIENT | REPAIR, out(0, b"payload")[:80] + bytes(40) + b"payload"))


def messages_seeds():
    t = "messages"
    cases = [
        (0, "open", OPEN_DATA_CHANNEL),
        (0, "open-minimal", '{"MessageSchemaVersion":"1.0","RequestId":"r","TokenValue":"t","ClientId":"c",'
                            '"Extra":[1,2]}'),
        (1, "ack", ack_json("output_stream_data", 7)),
        (1, "ack-big-seq", '{"AcknowledgedMessageType":"x","AcknowledgedMessageId":"y",'
                           '"AcknowledgedMessageSequenceNumber":18446744073709551615}'),
        (2, "closed", CHANNEL_CLOSED),
        (2, "closed-minimal", '{"MessageId":"m","SessionId":"s","SchemaVersion":1,"New":true}'),
        (3, "handshake-request", HANDSHAKE_REQUEST),
        (3, "handshake-request-unknown", '{"AgentVersion":"3.3.1142.0","Future":1,"RequestedClientActions":'
                                         '[{"ActionType":"Other","ActionParameters":5},{"ActionType":"SessionType",'
                                         '"ActionParameters":{"SessionType":"Standard_Stream"}}]}'),
        (4, "handshake-response", HANDSHAKE_RESPONSE),
        (4, "handshake-response-features", '{"ClientVersion":"porthole-0.1.0","ProcessedClientActions":['
                                           '{"ActionType":"SessionType","ActionStatus":1,"ActionResult":null,'
                                           '"Error":""}],"Errors":["boom"],"PortholeFeatures":["ExitCode","OutputWithoutDigest"]}'),
        (4, "handshake-response-null", '{"ClientVersion":"1","ProcessedClientActions":null}'),
        (5, "handshake-complete", HANDSHAKE_COMPLETE),
        (6, "size", '{"cols":120,"rows":30}'),
        (6, "size-negative", '{"cols":-1,"rows":1}'),
        (7, "exit-code", "EXIT_CODE: 130\r\n"),
        (7, "exit-code-negative", "EXIT_CODE: -1"),
        (3, "deep", '{"AgentVersion":"1","RequestedClientActions":[{"ActionType":"SessionType","ActionParameters":'
                    '{"SessionType":"x","Properties":' + "[" * 40 + "]" * 40 + "}}]}"),
    ]
    for selector, name, text in cases:
        write(t, name, bytes([selector]) + text.encode())


# ---- SigV4: the suite's requests (tests/fixtures/sigv4) ------------------------------------------

def sigv4_seeds():
    t = "sigv4"
    suite = ROOT / "tests" / "fixtures" / "sigv4"
    cases = sorted(p for p in suite.iterdir() if (p / "request.txt").exists())
    for index, case in enumerate(cases):
        for mode, file in ((0, "header-signed-request.txt"), (0, "query-signed-request.txt"),
                           (1, "request.txt"), (2, "request.txt")):
            path = case / file
            if path.exists():
                # mode / 3 % 7 picks the tampering check: spread them over the cases.
                byte = mode + 3 * ((index + mode) % 7)
                write(t, f"{case.name}-{mode}-{file.split('.')[0]}", bytes([byte]) + path.read_bytes())


# ---- policies (tests/unit/auth/policy_engine_test.cc, shared/ecs-exec-seed.md) --------------------

TASK_CONTEXT = ("ecs:ExecuteCommand\n"
                "arn:aws:ecs:us-east-1:111122223333:task/cluster-name/0123456789abcdef\n"
                "AWS arn:aws:iam::111122223333:user/alice\n"
                "aws:username=alice\naws:PrincipalTag/team=blue\necs:container-name=app\n"
                "aws:SourceIp=192.0.2.10\naws:TagKeys=team\naws:TagKeys=env\n")


def raw_strings(source):
    """The C++ raw string literals of `source`, adjacent ones joined."""
    literals = []
    for match in re.finditer(r'(R"\((?:.|\n)*?\)"\s*)+', source):
        parts = re.findall(r'R"\(((?:.|\n)*?)\)"', match.group(0))
        literals.append("".join(parts))
    return literals


def policy_seeds():
    t = "policy"
    source = (ROOT / "tests" / "unit" / "auth" / "policy_engine_test.cc").read_text()
    documents = []
    for text in raw_strings(source):
        text = text.strip()
        if not text.startswith("{"):
            continue
        if '"Statement"' in text:
            documents.append(text)
        elif '"Effect"' in text:
            documents.append('{"Version":"2012-10-17","Statement":' + text + "}")
        else:  # a Condition block
            documents.append('{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecs:ExecuteCommand",'
                             '"Resource":"*","Condition":' + text + "}}")
    seed_doc = ROOT.parent / "shared" / "ecs-exec-seed.md"  # shared/ beside the work tree, when there
    if seed_doc.exists():
        for block in re.findall(r"```\n(\{.*?\})\n```", seed_doc.read_text(), re.S):
            if '"Statement"' in block:
                documents.append(block)
    seen = set()
    for i, doc in enumerate(documents):
        if doc in seen:
            continue
        seen.add(doc)
        kind = 1 if '"sts:AssumeRole"' in doc and '"Principal"' in doc else 2 if '"Principal"' in doc else 0
        context = ("\0" + TASK_CONTEXT) if i % 3 == 0 else ""
        write(t, f"{i:03d}", bytes([kind]) + doc.encode() + context.encode())


# ---- API bodies ----------------------------------------------------------------------------------

def aws_json_seeds():
    t = "aws_json"
    bodies = {
        "create-cluster": {"clusterName": "demo", "tags": [{"key": "team", "value": "blue"}]},
        "run-task": {"cluster": "demo", "taskDefinition": "web:1", "count": 2, "enableExecuteCommand": True,
                     "launchType": "EC2", "startedBy": "fuzz", "group": "g",
                     "overrides": {"containerOverrides": [{"name": "app", "command": ["sleep", "1"]}]},
                     "tags": [{"key": "k", "value": "v"}, {"key": "only-key"}]},
        "register-task-definition": {"family": "web", "containerDefinitions": [
            {"name": "app", "image": "busybox", "command": ["sleep", "3600"],
             "linuxParameters": {"initProcessEnabled": True}}]},
        "execute-command": {"cluster": "demo", "task": "0123456789abcdef0123456789abcdef", "container": "app",
                            "interactive": True, "command": "/bin/sh"},
        "describe-tasks": {"cluster": "demo", "tasks": ["a", "b", 3]},
        "wrong-types": {"cluster": 5, "count": "2", "enableExecuteCommand": "yes", "tags": {}, "tasks": "a"},
        "blank": {"cluster": "", "taskDefinition": None},
        "big-count": {"count": 18446744073709551615},
        "negative-count": {"count": -9223372036854775808, "desiredCount": 1.5},
        "too-many-tags": {"tags": [{"key": "k%d" % i, "value": ""} for i in range(51)]},
        "long-tag": {"tags": [{"key": "k" * 129, "value": "v"}]},
    }
    for name, body in bodies.items():
        write(t, name, json.dumps(body, separators=(",", ":")))
    write(t, "not-object", "[1,2,3]")
    write(t, "not-json", '{"cluster":')


def query_protocol_seeds():
    t = "query_protocol"
    policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*"}]}'
    encoded = "".join(c if c.isalnum() or c in "-_.~" else "%%%02X" % ord(c) for c in policy)
    bodies = {
        "create-user": "Action=CreateUser&Version=2010-05-08&UserName=alice",
        "put-user-policy": "Action=PutUserPolicy&Version=2010-05-08&UserName=alice&PolicyName=exec&PolicyDocument="
                           + encoded,
        "simulate": "Action=SimulateCustomPolicy&Version=2010-05-08&PolicyInputList.member.1=" + encoded +
                    "&ActionNames.member.1=ecs%3AExecuteCommand&ActionNames.member.2=ecs%3ARunTask"
                    "&ActionNames.member.4=gap&ContextEntries.member.1.ContextKeyName=aws%3Ausername"
                    "&ContextEntries.member.1.ContextKeyValues.member.1=alice",
        "assume-role": "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr"
                       "&RoleSessionName=s+1&DurationSeconds=900",
        "get-caller-identity": "Action=GetCallerIdentity&Version=2011-06-15",
        "odd-encoding": "a=%zz&b=%4&c=%41%42&&d&=&e=1=2&f=+%2B+",
        "empty-name": "=value",
        "duplicates": "a=1&a=2&A=3",
        "xml": "Action=CreateUser&UserName=%3Cscript%3E%26%22%27",
    }
    for name, body in bodies.items():
        write(t, name, body)


def control_plane_seeds():
    t = "control_plane"
    ecs = "AmazonEC2ContainerServiceV20141113."
    requests = {
        "list-clusters": (ecs + "ListClusters", {}),
        "describe-clusters": (ecs + "DescribeClusters", {"clusters": ["demo", "nope"], "include": ["TAGS"]}),
        "create-cluster": (ecs + "CreateCluster", {"clusterName": "c2", "tags": [{"key": "team", "value": "blue"}]}),
        "delete-cluster": (ecs + "DeleteCluster", {"cluster": "demo"}),
        "register-task-definition": (ecs + "RegisterTaskDefinition", {
            "family": "api", "taskRoleArn": "arn:aws:iam::123456789012:role/r",
            "containerDefinitions": [{"name": "app", "image": "busybox", "command": ["sleep", "1"],
                                      "environment": [{"name": "A", "value": "1"}],
                                      "linuxParameters": {"initProcessEnabled": True}}]}),
        "describe-task-definition": (ecs + "DescribeTaskDefinition", {"taskDefinition": "web:1"}),
        "list-task-definitions": (ecs + "ListTaskDefinitions", {"familyPrefix": "w"}),
        "deregister-task-definition": (ecs + "DeregisterTaskDefinition", {"taskDefinition": "web:1"}),
        "run-task": (ecs + "RunTask", {"cluster": "demo", "taskDefinition": "web", "count": 2,
                                       "enableExecuteCommand": True, "tags": [{"key": "k", "value": "v"}],
                                       "overrides": {"containerOverrides": [{"name": "app", "command": ["id"]}]}}),
        "list-tasks": (ecs + "ListTasks", {"cluster": "default"}),
        "list-container-instances": (ecs + "ListContainerInstances", {"cluster": "default"}),
        "describe-tasks": (ecs + "DescribeTasks", {"cluster": "demo", "tasks": ["0123456789abcdef0123456789abcdef"]}),
        "stop-task": (ecs + "StopTask", {"cluster": "demo", "task": "0123456789abcdef0123456789abcdef",
                                         "reason": "fuzz"}),
        "execute-command": (ecs + "ExecuteCommand", {"cluster": "demo", "task": "0123456789abcdef0123456789abcdef",
                                                     "container": "app", "interactive": True,
                                                     "command": "/bin/sh"}),
        "create-service": (ecs + "CreateService", {"cluster": "demo", "serviceName": "s", "taskDefinition": "web:1",
                                                   "desiredCount": 1, "enableExecuteCommand": True}),
        "update-service": (ecs + "UpdateService", {"cluster": "demo", "service": "s", "desiredCount": 0}),
        "tag-resource": (ecs + "TagResource", {"resourceArn": "arn:aws:ecs:us-east-1:123456789012:cluster/demo",
                                               "tags": [{"key": "a", "value": "b"}]}),
        "list-tags": (ecs + "ListTagsForResource",
                      {"resourceArn": "arn:aws:ecs:us-east-1:123456789012:cluster/demo"}),
        "ssm-start-session": ("AmazonSSM.StartSession",
                              {"Target": "ecs:demo_0123456789abcdef0123456789abcdef_0123456789abcdef-1"}),
        "ssm-describe-sessions": ("AmazonSSM.DescribeSessions", {"State": "Active"}),
        "ssm-terminate-session": ("AmazonSSM.TerminateSession", {"SessionId": "ecs-execute-command-0123"}),
        "join-token": ("PortholeNodeService.CreateJoinToken", {"expiresInSeconds": 600}),
        "describe-gateway": ("PortholeAdminService.DescribeGateway", {}),
        "unknown": (ecs + "Nope", {}),
    }
    for name, (target, body) in requests.items():
        write(t, name, target + "\n" + json.dumps(body, separators=(",", ":")))
    write(t, "not-json", ecs + "ListClusters\n{")
    policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:*","Resource":"*"}]}'
    encoded = "".join(c if c.isalnum() or c in "-_.~" else "%%%02X" % ord(c) for c in policy)
    forms = {
        "iam-create-user": "Action=CreateUser&Version=2010-05-08&UserName=bob",
        "iam-put-user-policy": "Action=PutUserPolicy&Version=2010-05-08&UserName=alice&PolicyName=p&PolicyDocument="
                               + encoded,
        "iam-create-role": "Action=CreateRole&Version=2010-05-08&RoleName=r&AssumeRolePolicyDocument=" + "".join(
            c if c.isalnum() or c in "-_.~" else "%%%02X" % ord(c) for c in
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":'
            '"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}'),
        "iam-simulate": "Action=SimulateCustomPolicy&Version=2010-05-08&PolicyInputList.member.1=" + encoded +
                        "&ActionNames.member.1=ecs%3AExecuteCommand",
        "iam-list-users": "Action=ListUsers&Version=2010-05-08",
        "sts-get-caller-identity": "Action=GetCallerIdentity&Version=2011-06-15",
        "sts-assume-role": "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr"
                           "&RoleSessionName=s",
    }
    for name, body in forms.items():
        write(t, name, "\n" + body)


def url_seeds():
    t = "url"
    urls = {
        "endpoint": "https://127.0.0.1:8443",
        "stream": "wss://127.0.0.1:8443/v1/data-channel/ecs-execute-command-0123456789abcdef0?role=publish_subscribe",
        "ipv6": "wss://[::1]:8443/v1/control-channel/x",
        "plain": "http://localhost/path?q=1",
        "ws-default": "ws://example.com",
        "query-only": "HTTPS://Example.com?x=y",
        "port-zero": "https://h:0/",
        "port-big": "https://h:65536/",
        "port-junk": "https://h:80x/",
        "userinfo": "https://user:pw@h/",
        "ftp": "ftp://h/",
        "unterminated": "https://[::1/",
        "junk-after-literal": "https://[::1]x/",
        "empty-host": "https:///path",
        "no-scheme": "127.0.0.1:8443",
    }
    for name, url in urls.items():
        write(t, name, url)


def main():
    client_message_seeds()
    sequenced_stream_seeds()
    messages_seeds()
    sigv4_seeds()
    policy_seeds()
    aws_json_seeds()
    query_protocol_seeds()
    control_plane_seeds()
    url_seeds()
    for folder in sorted(CORPUS.iterdir()):
        files = list(folder.iterdir())
        print(f"{folder.name}: {len(files)} files, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
