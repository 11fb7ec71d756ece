"""Each personality's API answers a real client (httpx with DigestAuth): device information,
network, time get/set, reboot, certificate upload and on-device CSR -> sign -> install, with
the vendors' quirks (namespaces, errors with HTTP 200, SOAP faults) and auth failures."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json

import httpx
import pytest
import trio
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

from camscan import certinfo, pki
from camscan.lab import Lab
from camscan.lab.device import Device
from camscan.lab.personalities.xmlutil import find_local, parse, text_local
from tests.lab.conftest import client, first, observe, san_ips, wait_online
from tests.lab.wsse import envelope, security_header

SOAP = "application/soap+xml; charset=utf-8"


async def wait_rebooted(device: Device, boots_before: int) -> None:
    await wait_online(device, boots_at_least=boots_before + 1)


@pytest.mark.parametrize("personality", ["onvif", "hikvision", "axis", "dahua"])
async def test_every_personality_demands_digest(lab: Lab, personality: str) -> None:
    device = first(lab, personality=personality)
    path = {
        "onvif": "/onvif/device_service",
        "hikvision": "/ISAPI/System/deviceInfo",
        "axis": "/axis-cgi/basicdeviceinfo.cgi",
        "dahua": "/cgi-bin/magicBox.cgi?action=getSerialNo",
    }
    body = (
        b'{"apiVersion": "1.0", "method": "getAllProperties"}'
        if personality == "axis"
        else envelope("<tds:GetDeviceInformation/>")
    )
    method = "GET" if personality in ("hikvision", "dahua") else "POST"
    with trio.fail_after(10):
        async with client(device, auth=False) as anonymous:
            response = await anonymous.request(method, path[personality], content=body)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Digest ")
        assert 'qop="auth"' in response.headers["www-authenticate"]
        async with client(device, password="not-the-password") as wrong:
            response = await wrong.request(method, path[personality], content=body)
        assert response.status_code == 401
        async with client(device) as right:
            response = await right.request(method, path[personality], content=body)
        assert response.status_code == 200
        assert device.identity.serial in response.text or device.identity.model in response.text


async def test_hikvision_isapi(lab: Lab) -> None:
    device = first(lab, personality="hikvision")
    with trio.fail_after(20):
        async with client(device) as http:
            info = parse((await http.get("/ISAPI/System/deviceInfo")).content)
            assert info.tag == "{http://www.isapi.org/ver20/XMLSchema}DeviceInfo"
            assert text_local(info, "macAddress") == device.identity.mac
            assert text_local(info, "serialNumber") == device.identity.serial
            net = parse((await http.get("/ISAPI/System/Network/interfaces")).content)
            assert text_local(net, "NetworkInterface", "IPAddress", "ipAddress") == device.ip
            assert text_local(net, "NetworkInterface", "Link", "MACAddress") == device.identity.mac

            before = parse((await http.get("/ISAPI/System/time")).content)
            assert text_local(before, "timeZone") == "CST-8:00:00"  # UTC+8, POSIX-inverted
            assert text_local(before, "timeMode") == "NTP"
            body = (
                "<Time><timeMode>manual</timeMode><localTime>2025-01-31T20:00:00</localTime>"
                "<timeZone>CST-8:00:00</timeZone></Time>"
            )  # no offset in localTime: the device's zone
            status = parse((await http.put("/ISAPI/System/time", content=body)).content)
            assert text_local(status, "statusCode") == "1"
            assert (
                abs((device.clock.now() - dt.datetime(2025, 1, 31, 12, tzinfo=dt.UTC)).total_seconds()) < 60
            )
            got = parse((await http.get("/ISAPI/System/time")).content)
            assert text_local(got, "localTime").startswith("2025-01-31T20:0")
            assert text_local(got, "localTime").endswith("+08:00")
            assert text_local(got, "timeMode") == "manual"  # a manual PUT is a mode change
            moved = "<Time><timeMode>NTP</timeMode><timeZone>CST+0:00:00</timeZone></Time>"
            assert (
                text_local(parse((await http.put("/ISAPI/System/time", content=moved)).content), "statusCode")
                == "1"
            )
            assert device.time.tz == "CST+0:00:00" and device.time.mode == "NTP"  # what a client sent
            bad = await http.put(
                "/ISAPI/System/time", content="<Time><localTime>yesterday</localTime></Time>"
            )
            assert bad.status_code == 200  # the ISAPI quirk: the error is in the body
            assert text_local(parse(bad.content), "statusCode") == "6"
            assert (await http.put("/ISAPI/System/time", content="<Time>")).status_code == 400
            unknown = parse((await http.get("/ISAPI/System/nothing")).content)
            assert text_local(unknown, "subStatusCode") == "notSupport"

            # No public description of the certificate import body exists: the lab takes none.
            pem = lab.pki.intermediate.cert_pem
            put = await http.put("/ISAPI/Security/serverCertificate/certificate", content=pem)
            assert text_local(parse(put.content), "statusCode") == "4"
            post = await http.post("/ISAPI/Security/serverCertificate/certificate?customID=x", content=pem)
            assert text_local(parse(post.content), "statusCode") == "4"
            served = await observe(device)
            info = parse((await http.get("/ISAPI/Security/serverCertificate/certificate")).content)
            assert text_local(info, "subjectDN") == served.leaf.subject.rfc4514_string()

            boots = device.boot_count
            reboot = parse((await http.put("/ISAPI/System/reboot")).content)
            assert text_local(reboot, "statusCode") == "1"
        await wait_rebooted(device, boots)
        async with client(device) as http:
            status_doc = parse((await http.get("/ISAPI/System/status")).content)
            assert int(text_local(status_doc, "deviceUpTime")) < 5


async def test_hikvision_old_firmware_namespace(lab: Lab) -> None:
    device = next(d for d in lab.devices if "hikvision.com" in d.settings.isapi_namespace)
    async with client(device) as http:
        with trio.fail_after(10):
            info = parse((await http.get("/ISAPI/System/deviceInfo")).content)
    assert info.tag == "{http://www.hikvision.com/ver20/XMLSchema}DeviceInfo"


async def _axis_call(http: httpx.AsyncClient, cgi: str, method: str, **params: object) -> dict[str, object]:
    payload: dict[str, object] = {"apiVersion": "1.0", "context": "t", "method": method}
    if params:
        payload["params"] = params
    response = await http.post(f"/axis-cgi/{cgi}", json=payload)
    assert response.status_code == 200
    result = response.json()
    assert isinstance(result, dict)
    return result


async def test_axis_vapix(lab: Lab) -> None:
    device = first(lab, personality="axis")
    with trio.fail_after(20):
        async with client(device) as http:
            info = await _axis_call(http, "basicdeviceinfo.cgi", "getAllProperties")
            props = info["data"]["propertyList"]  # type: ignore[index]
            assert (
                props["SerialNumber"] == device.identity.mac_bare
                and props["ProdNbr"] == device.identity.model
            )
            net = await _axis_call(http, "network_settings.cgi", "getNetworkInfo")
            eth0 = net["data"]["devices"][0]  # type: ignore[index]
            assert eth0["macAddress"] == device.identity.mac
            assert eth0["IPv4"]["addresses"][0]["address"] == device.ip
            assert (await _axis_call(http, "time.cgi", "setDateTime", dateTime="2025-02-01T08:00:00Z"))[
                "data"
            ] == {}
            got = await _axis_call(http, "time.cgi", "getDateTimeInfo")
            assert str(got["data"]["dateTime"]).startswith("2025-02-01T08:0")  # type: ignore[index]
            bad = await _axis_call(http, "time.cgi", "setDateTime", dateTime="soon")
            assert bad["error"]["code"] == 2004  # type: ignore[index]
            only_post = (await http.get("/axis-cgi/basicdeviceinfo.cgi")).json()
            assert only_post["error"]["code"] == 2002
            assert (await http.post("/axis-cgi/basicdeviceinfo.cgi", content=b"{nope")).json()["error"][
                "code"
            ] == 4000

            api = "/config/rest/cert/v1"
            create = {
                "data": {
                    "alias": "camscan-https",
                    "key_type": "EC-P256",
                    "subject": f"CN={device.ip}",
                    "subject_alt_names": [f"IP:{device.ip}"],
                }
            }
            assert (await http.post(f"{api}/create_certificate", json=create)).json()["status"] == "success"
            csr_pem = (
                await http.post(f"{api}/certificates/camscan-https/get_csr", json={"data": {}})
            ).json()["data"]
            signed = pki.sign_csr(x509.load_pem_x509_csr(csr_pem.encode()), lab.pki.intermediate)
            assert san_ips(signed) == [device.ip]  # the CSR carried the SAN
            patch = {"data": {"certificate": pki.pem_chain([signed]).decode()}}
            assert (await http.patch(f"{api}/certificates/camscan-https", json=patch)).json()[
                "status"
            ] == "success"
            before = await observe(device)
            assert before.leaf != signed  # not served until bound to HTTPS
            short = envelope(
                '<aweb:SetWebServerTlsConfiguration xmlns:aweb="http://www.axis.com/vapix/ws/webserver" '
                'xmlns:acert="http://www.axis.com/vapix/ws/cert"><aweb:Configuration><aweb:Tls>true'
                "</aweb:Tls><aweb:CertificateSet><acert:Certificates><acert:Id>camscan-https</acert:Id>"
                "</acert:Certificates></aweb:CertificateSet></aweb:Configuration>"
                "</aweb:SetWebServerTlsConfiguration>"
            )
            refused = await http.post("/vapix/services", content=short, headers={"Content-Type": SOAP})
            assert refused.status_code == 400 and "InvalidCertificateConfigurationFault" in refused.text
            assert (await observe(device)).leaf == before.leaf
            current = await http.post(
                "/vapix/services",
                content=envelope(
                    '<aweb:GetWebServerTlsConfiguration xmlns:aweb="http://www.axis.com/vapix/ws/webserver"/>'
                ),
                headers={"Content-Type": SOAP},
            )
            config = current.text.split("<aweb:Configuration", 1)[1].split("</aweb:Configuration>", 1)[0]
            assert "<acert:Cipher>" in config and "<aweb:Admin>HttpAndHttps</aweb:Admin>" in config
            whole = config.replace("<acert:Id>default</acert:Id>", "<acert:Id>camscan-https</acert:Id>")
            bind = envelope(
                '<aweb:SetWebServerTlsConfiguration xmlns:aweb="http://www.axis.com/vapix/ws/webserver" '
                f'xmlns:acert="http://www.axis.com/vapix/ws/cert"><aweb:Configuration{whole}'
                "</aweb:Configuration></aweb:SetWebServerTlsConfiguration>"
            )
            bound = await http.post("/vapix/services", content=bind, headers={"Content-Type": SOAP})
            assert bound.status_code == 200, bound.text
            # One cipher fewer than the device's own list: refused, nothing changes.
            fewer = bind.replace(b"<acert:Cipher>ECDHE-RSA-CHACHA20-POLY1305</acert:Cipher>", b"")
            assert fewer != bind
            dropped = await http.post("/vapix/services", content=fewer, headers={"Content-Type": SOAP})
            assert "InvalidCertificateConfigurationFault" in dropped.text
            assert (await observe(device)).leaf == signed

            stranger = pki.make_leaf(lab.pki.intermediate, common_name="x")
            mismatch = {
                "data": {
                    "alias": "up",
                    "certificate": stranger.cert_pem.decode(),
                    "private_key": pki.key_to_pem(pki.new_key()).decode(),
                }
            }
            assert (await http.post(f"{api}/certificates", json=mismatch)).json()["status"] == "error"
            listing = (await http.get(f"{api}/certificates")).json()["data"]
            assert [c["alias"] for c in listing] == ["camscan-https"]
            boots = device.boot_count
            assert (await http.get("/axis-cgi/restart.cgi")).status_code == 200
        await wait_rebooted(device, boots)
        async with client(device) as http:
            ready = await _axis_call(http, "systemready.cgi", "systemready")
            assert ready["data"]["systemready"] == "yes" and int(ready["data"]["uptime"]) < 5  # type: ignore[index]
        assert (await observe(device)).leaf == signed


async def test_axis_v1beta_firmware(lab: Lab) -> None:
    device = next(d for d in lab.devices if d.settings.axis_cert_api == "v1beta")
    async with client(device) as http:
        with trio.fail_after(10):
            listed = (await http.get("/config/discover/apis")).json()
            missing = await http.get("/config/rest/cert/v1/certificates")
            present = await http.get("/config/rest/cert/v1beta/certificates")
    assert list(listed["data"]["cert"]) == ["v1beta"]
    assert missing.status_code == 404 and missing.json()["error"]["code"] == 1
    assert present.status_code == 200 and present.json()["status"] == "success"


async def test_dahua_cgi(lab: Lab) -> None:
    device = first(lab, personality="dahua")
    with trio.fail_after(20):
        async with client(device, auth=False) as anonymous:
            challenge = (await anonymous.get("/cgi-bin/magicBox.cgi?action=getSystemInfo")).headers
        assert f'realm="DH_{device.identity.mac_bare}"' in challenge["www-authenticate"]
        async with client(device) as http:
            info = (await http.get("/cgi-bin/magicBox.cgi?action=getSystemInfo")).text
            assert f"serialNumber={device.identity.serial}\r\n" in info
            assert f"deviceType={device.identity.model}" in info
            assert (await http.get("/cgi-bin/magicBox.cgi?action=getSoftwareVersion")).text.startswith(
                "version=2.8"
            )
            net = (await http.get("/cgi-bin/configManager.cgi?action=getConfig&name=Network")).text
            assert f"table.Network.eth0.IPAddress={device.ip}" in net
            assert f"table.Network.eth0.PhysicalAddress={device.identity.mac}" in net
            ok = await http.get(
                "/cgi-bin/global.cgi", params={"action": "setCurrentTime", "time": "2016-10-28 13:48:00"}
            )
            assert ok.text.strip() == "OK"
            now = (await http.get("/cgi-bin/global.cgi?action=getCurrentTime")).text
            assert now.startswith("result=2016-10-28 13:4")
            # Local time in the device's zone (UTC+8 here); its NTP setting is untouched.
            utc = dt.datetime(2016, 10, 28, 5, 48, tzinfo=dt.UTC)
            assert abs((device.clock.now() - utc).total_seconds()) < 60
            assert device.time.mode == "NTP" and device.time.tz == "CST-8"
            bad = await http.get("/cgi-bin/global.cgi", params={"action": "setCurrentTime", "time": "noon"})
            assert bad.status_code == 200 and bad.text.startswith("Error")  # the body says it
            assert (await http.get("/cgi-bin/magicBox.cgi?action=explode")).status_code == 400
            boots = device.boot_count
            assert (await http.get("/cgi-bin/magicBox.cgi?action=reboot")).text.strip() == "OK"
        await wait_rebooted(device, boots)
    # The plain-HTTP port serves the same API, as on real units.
    async with client(device, scheme="http") as http:
        with trio.fail_after(10):
            assert (
                await http.get("/cgi-bin/magicBox.cgi?action=getSerialNo")
            ).text == f"sn={device.identity.serial}\r\n"


async def _onvif(http: httpx.AsyncClient, body: str, header: str = "") -> httpx.Response:
    return await http.post(
        "/onvif/device_service", content=envelope(body, header), headers={"Content-Type": SOAP}
    )


async def test_onvif_username_token_and_the_device_clock(lab: Lab) -> None:
    device = first(lab, scenario="clock-1970")  # the device thinks it is 1970
    user, password = device.settings.username, device.settings.password
    with trio.fail_after(20):
        async with client(device, auth=False) as http:
            # PRE_AUTH: no credentials needed to read the clock.
            clock = parse((await _onvif(http, "<tds:GetSystemDateAndTime/>")).content)
            utc = find_local(
                clock, "Body", "GetSystemDateAndTimeResponse", "SystemDateAndTime", "UTCDateTime"
            )
            assert utc is not None and text_local(utc, "Date", "Year") == "1970"
            assert (await _onvif(http, "<tds:GetDeviceInformation/>")).status_code == 401

            # Our clock is right, the device's is not: the token is refused as stale.
            stale = await _onvif(http, "<tds:GetDeviceInformation/>", security_header(user, password))
            assert stale.status_code == 400
            assert "NotAuthorized" in stale.text and "clock" in stale.text

            # onvif-zeep's fix: take Created from the device's clock (dt_diff).
            device_now = dt.datetime(
                int(text_local(utc, "Date", "Year")),
                int(text_local(utc, "Date", "Month")),
                int(text_local(utc, "Date", "Day")),
                int(text_local(utc, "Time", "Hour")),
                int(text_local(utc, "Time", "Minute")),
                int(text_local(utc, "Time", "Second")),
                tzinfo=dt.UTC,
            )
            created = device_now.strftime("%Y-%m-%dT%H:%M:%SZ")
            info = await _onvif(
                http, "<tds:GetDeviceInformation/>", security_header(user, password, created=created)
            )
            assert info.status_code == 200
            doc = parse(info.content)
            assert (
                text_local(doc, "Body", "GetDeviceInformationResponse", "SerialNumber")
                == device.identity.serial
            )

            wrong = await _onvif(
                http, "<tds:GetDeviceInformation/>", security_header(user, "wrong", created=created)
            )
            assert wrong.status_code == 400 and "Sender not Authorized" in wrong.text

            # Set the clock right (Manual, UTC), then a token made from our clock works.
            now = dt.datetime.now(dt.UTC)
            set_time = (
                "<tds:SetSystemDateAndTime><tds:DateTimeType>Manual</tds:DateTimeType>"
                "<tds:DaylightSavings>false</tds:DaylightSavings><tds:TimeZone><tt:TZ>UTC0</tt:TZ>"
                f"</tds:TimeZone><tds:UTCDateTime><tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>"
                f"{now.minute}</tt:Minute><tt:Second>{now.second}</tt:Second></tt:Time><tt:Date>"
                f"<tt:Year>{now.year}</tt:Year><tt:Month>{now.month}</tt:Month><tt:Day>{now.day}</tt:Day>"
                "</tt:Date></tds:UTCDateTime></tds:SetSystemDateAndTime>"
            )
            assert (
                await _onvif(http, set_time, security_header(user, password, created=created))
            ).status_code == 200
            assert abs((device.clock.now() - now).total_seconds()) < 5
            fresh = await _onvif(http, "<tds:GetNetworkInterfaces/>", security_header(user, password))
            assert fresh.status_code == 200
            assert (
                text_local(
                    parse(fresh.content),
                    "Body",
                    "GetNetworkInterfacesResponse",
                    "NetworkInterfaces",
                    "Info",
                    "HwAddress",
                )
                == device.identity.mac
            )
            unknown = await _onvif(http, "<tds:GetNothing/>", security_header(user, password))
            assert unknown.status_code == 500 and "ActionNotSupported" in unknown.text
            garbage = await http.post(
                "/onvif/device_service", content=b"<s:Envelope", headers={"Content-Type": SOAP}
            )
            assert garbage.status_code == 400


async def test_onvif_advanced_security_flow_a(lab: Lab) -> None:
    device = first(lab, personality="onvif")
    with trio.fail_after(30):
        async with client(device) as http:  # Digest works for ONVIF too
            services = (
                await _onvif(
                    http,
                    "<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>",
                )
            ).text
            assert "http://www.onvif.org/ver10/advancedsecurity/wsdl" in services
            weak = await _onvif(
                http, "<tas:CreateRSAKeyPair><tas:KeyLength>1024</tas:KeyLength></tas:CreateRSAKeyPair>"
            )
            assert weak.status_code == 500 and "ter:KeyLength" in weak.text
            rsa = parse(
                (
                    await _onvif(
                        http,
                        "<tas:CreateRSAKeyPair><tas:KeyLength>2048</tas:KeyLength></tas:CreateRSAKeyPair>",
                    )
                ).content
            )
            assert (
                text_local(rsa, "Body", "CreateRSAKeyPairResponse", "KeyID") in device.firmware.keystore.keys
            )
            created = parse(
                (
                    await _onvif(
                        http,
                        "<tas:CreateECCKeyPair><tas:EllipticCurve>secp256r1"
                        "</tas:EllipticCurve></tas:CreateECCKeyPair>",
                    )
                ).content
            )
            key_id = text_local(created, "Body", "CreateECCKeyPairResponse", "KeyID")
            status = (
                await _onvif(http, f"<tas:GetKeyStatus><tas:KeyID>{key_id}</tas:KeyID></tas:GetKeyStatus>")
            ).text
            assert "<tas:KeyStatus>ok</tas:KeyStatus>" in status
            san = x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(device.ip)), x509.DNSName("cam.example.test")]
            )
            request = (
                f"<tas:CreatePKCS10CSR><tas:Subject><tas:CommonName>{device.ip}"
                f"</tas:CommonName></tas:Subject><tas:KeyID>{key_id}</tas:KeyID>"
                "<tas:CSRAttribute><tas:X509v3Extension><tas:extnOID>2.5.29.17</tas:extnOID>"
                f"<tas:critical>false</tas:critical><tas:extnValue>{base64.b64encode(san.public_bytes()).decode()}"
                "</tas:extnValue></tas:X509v3Extension></tas:CSRAttribute>"
                "<tas:SignatureAlgorithm><tas:algorithm>{alg}</tas:algorithm></tas:SignatureAlgorithm>"
                "</tas:CreatePKCS10CSR>"
            )
            wrong_alg = await _onvif(http, request.replace("{alg}", "1.2.840.113549.1.1.11"))
            assert wrong_alg.status_code == 500 and "ter:SignatureAlgorithm" in wrong_alg.text
            csr_doc = parse((await _onvif(http, request.replace("{alg}", "1.2.840.10045.4.3.2"))).content)
            csr = x509.load_der_x509_csr(
                base64.b64decode(text_local(csr_doc, "Body", "CreatePKCS10CSRResponse", "PKCS10CSR"))
            )
            asked = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            assert set(asked) == set(san)  # the CSRAttribute made it into the CSR
            signed = pki.sign_csr(csr, lab.pki.intermediate, ips=[device.ip])
            ids = []
            for cert, required in ((signed, "true"), (lab.pki.intermediate.cert, "false")):
                der = base64.b64encode(cert.public_bytes(Encoding.DER)).decode()
                up = parse(
                    (
                        await _onvif(
                            http,
                            f"<tas:UploadCertificate><tas:Certificate>{der}</tas:Certificate>"
                            f"<tas:PrivateKeyRequired>{required}</tas:PrivateKeyRequired>"
                            "</tas:UploadCertificate>",
                        )
                    ).content
                )
                ids.append(text_local(up, "Body", "UploadCertificateResponse", "CertificateID"))
            wrong_order = await _onvif(
                http,
                "<tas:CreateCertificationPath><tas:CertificateIDs>"
                + "".join(f"<tas:CertificateID>{i}</tas:CertificateID>" for i in reversed(ids))
                + "</tas:CertificateIDs></tas:CreateCertificationPath>",
            )
            assert wrong_order.status_code == 500 and "InvalidCertificateChain" in wrong_order.text
            path = parse(
                (
                    await _onvif(
                        http,
                        "<tas:CreateCertificationPath><tas:CertificateIDs>"
                        + "".join(f"<tas:CertificateID>{i}</tas:CertificateID>" for i in ids)
                        + "</tas:CertificateIDs></tas:CreateCertificationPath>",
                    )
                ).content
            )
            path_id = text_local(path, "Body", "CreateCertificationPathResponse", "CertificationPathID")
            assigned = await _onvif(
                http,
                "<tas:AddServerCertificateAssignment><tas:CertificationPathID>"
                f"{path_id}</tas:CertificationPathID></tas:AddServerCertificateAssignment>",
            )
            assert assigned.status_code == 200
            seen = await observe(device)
            assert seen.leaf == signed and seen.chain[1] == lab.pki.intermediate.cert

            # A certificate for a key the device does not hold cannot be bound.
            stranger = pki.make_leaf(lab.pki.intermediate, common_name="x").cert
            der = base64.b64encode(stranger.public_bytes(Encoding.DER)).decode()
            refused = await _onvif(
                http,
                f"<tas:UploadCertificate><tas:Certificate>{der}</tas:Certificate>"
                "<tas:PrivateKeyRequired>true</tas:PrivateKeyRequired></tas:UploadCertificate>",
            )
            assert refused.status_code == 500 and "NoMatchingPrivateKey" in refused.text

            # Flow B: certificate and key in a PKCS#12.
            outside = pki.make_leaf(lab.pki.intermediate, common_name=device.ip, ips=[device.ip])
            pfx = pkcs12.serialize_key_and_certificates(
                b"cam",
                outside.key,
                outside.cert,  # type: ignore[arg-type]
                [lab.pki.intermediate.cert],
                pki.serialization.BestAvailableEncryption(b"pw"),
            )
            up = parse(
                (
                    await _onvif(
                        http,
                        "<tas:UploadCertificateWithPrivateKeyInPKCS12><tas:CertWithPrivateKey>"
                        f"{base64.b64encode(pfx).decode()}</tas:CertWithPrivateKey>"
                        "<tas:Passphrase>pw</tas:Passphrase>"
                        "</tas:UploadCertificateWithPrivateKeyInPKCS12>",
                    )
                ).content
            )
            new_path = text_local(
                up, "Body", "UploadCertificateWithPrivateKeyInPKCS12Response", "CertificationPathID"
            )
            replaced = await _onvif(
                http,
                "<tas:ReplaceServerCertificateAssignment><tas:OldCertificationPathID>"
                f"{path_id}</tas:OldCertificationPathID><tas:NewCertificationPathID>"
                f"{new_path}</tas:NewCertificationPathID>"
                "</tas:ReplaceServerCertificateAssignment>",
            )
            assert replaced.status_code == 200
            assert (await observe(device)).leaf == outside.cert


async def test_onvif_legacy_certificate_ops_and_reboot(lab: Lab) -> None:
    device = first(lab, personality="dahua", scenario="firmware-ca")  # Dahua: certificates via ONVIF
    with trio.fail_after(30):
        async with client(device) as http:
            req = parse(
                (
                    await _onvif(
                        http,
                        "<tds:GetPkcs10Request><tds:CertificateID>https1</tds:CertificateID>"
                        f"<tds:Subject>CN={device.ip}</tds:Subject></tds:GetPkcs10Request>",
                    )
                ).content
            )
            csr = x509.load_der_x509_csr(
                base64.b64decode(text_local(req, "Body", "GetPkcs10RequestResponse", "Pkcs10Request", "Data"))
            )
            assert csr.subject.rfc4514_string() == f"CN={device.ip}"
            signed = pki.sign_csr(csr, lab.pki.root, ips=[device.ip])
            der = base64.b64encode(signed.public_bytes(Encoding.DER)).decode()
            loaded = await _onvif(
                http,
                "<tds:LoadCertificates><tds:NVTCertificate><tt:CertificateID>https1"
                f"</tt:CertificateID><tt:Certificate><tt:Data>{der}</tt:Data></tt:Certificate>"
                "</tds:NVTCertificate></tds:LoadCertificates>",
            )
            assert loaded.status_code == 200, loaded.text
            assert (await observe(device)).leaf == signed

            outside = pki.make_leaf(
                lab.pki.root, common_name=device.ip, ips=[device.ip], key=pki.new_key("rsa-2048")
            )
            key_der = outside.key.private_bytes(
                Encoding.DER,
                pki.serialization.PrivateFormat.TraditionalOpenSSL,
                pki.serialization.NoEncryption(),
            )
            upload = await _onvif(
                http,
                "<tds:LoadCertificateWithPrivateKey><tds:CertificateWithPrivateKey>"
                f"<tt:CertificateID>https2</tt:CertificateID><tt:Certificate><tt:Data>"
                f"{base64.b64encode(outside.cert_der).decode()}</tt:Data></tt:Certificate>"
                f"<tt:PrivateKey><tt:Data>{base64.b64encode(key_der).decode()}</tt:Data>"
                "</tt:PrivateKey></tds:CertificateWithPrivateKey>"
                "</tds:LoadCertificateWithPrivateKey>",
            )
            assert upload.status_code == 200, upload.text
            assert (await observe(device)).leaf_sha256 == certinfo.sha256_hex(outside.cert_der)
            boots = device.boot_count
            reboot = await _onvif(http, "<tds:SystemReboot/>")
            assert "Rebooting in" in reboot.text
        await wait_rebooted(device, boots)
    assert (await observe(device)).leaf_sha256 == certinfo.sha256_hex(outside.cert_der)


async def test_inventory_is_json_ready(lab: Lab) -> None:
    inventory = lab.inventory()
    assert json.loads(json.dumps(inventory)) == inventory
    assert {e["personality"] for e in inventory} == {"onvif", "hikvision", "axis", "dahua"}
    assert len({e["mac"] for e in inventory}) == len(inventory)
    assert len({e["address"] for e in inventory}) == len(inventory)


async def test_onvif_advanced_security_flavours(tmp_path: object) -> None:
    """AS 1.0.2 has no CreateECCKeyPair and no PKCS#12 upload; each flavour says what it has."""
    from camscan.lab import DeviceSpec, Fleet, LabSettings, open_lab
    from tests.lab.conftest import private_block

    specs = (
        DeviceSpec("onvif", "healthy", name="old", onvif_security="1.0.2"),
        DeviceSpec("onvif", "healthy", name="new"),
    )
    fleet = Fleet(LabSettings(block=private_block(), https_port=0, http_port=None, ws_discovery=False), specs)
    async with open_lab(fleet, block=fleet.settings.block, https_port=0, http_port=None) as running:
        with trio.fail_after(30):
            for name in ("old", "new"):
                device = running.device(name)
                async with client(device) as http:
                    caps = parse((await _onvif(http, "<tas:GetServiceCapabilities/>")).content)
                    store = find_local(
                        caps, "Body", "GetServiceCapabilitiesResponse", "Capabilities", "KeystoreCapabilities"
                    )
                    assert store is not None
                    ecc = await _onvif(
                        http,
                        "<tas:CreateECCKeyPair><tas:EllipticCurve>secp256r1"
                        "</tas:EllipticCurve></tas:CreateECCKeyPair>",
                    )
                    pfx = await _onvif(
                        http,
                        "<tas:UploadCertificateWithPrivateKeyInPKCS12><tas:CertWithPrivateKey>"
                        "AA==</tas:CertWithPrivateKey></tas:UploadCertificateWithPrivateKeyInPKCS12>",
                    )
                    if name == "old":
                        assert (
                            store.get("RSAKeyPairGeneration") == "true"
                            and "KeyPairGeneration" not in store.attrib
                        )
                        assert store.get("PKCS12") is None
                        assert ecc.status_code == 500 and "ActionNotSupported" in ecc.text
                        assert pfx.status_code == 500 and "ActionNotSupported" in pfx.text
                    else:
                        assert store.get("KeyPairGeneration") == "RSA ECC" and store.get("PKCS12") == "true"
                        assert ecc.status_code == 200
                        assert pfx.status_code == 500 and "BadPKCS12File" in pfx.text
                        # PBKDF2/AES is what it lists: a 3DES-encrypted PFX is refused.
                        leaf = pki.make_leaf(None, common_name=device.ip, ips=[device.ip])
                        legacy = (
                            pki.serialization.PrivateFormat.PKCS12.encryption_builder()
                            .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
                            .build(b"pw")
                        )
                        data = pkcs12.serialize_key_and_certificates(b"c", leaf.key, leaf.cert, None, legacy)  # type: ignore[arg-type]
                        old_pfx = await _onvif(
                            http,
                            "<tas:UploadCertificateWithPrivateKeyInPKCS12><tas:CertWithPrivateKey>"
                            f"{base64.b64encode(data).decode()}</tas:CertWithPrivateKey>"
                            "<tas:Passphrase>pw</tas:Passphrase></tas:UploadCertificateWithPrivateKeyInPKCS12>",
                        )
                        assert old_pfx.status_code == 500 and "unsupported PKCS#12 encryption" in old_pfx.text
