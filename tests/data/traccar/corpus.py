"""Request lines and bodies of Traccar's own tests and clients, copied verbatim.

Sources (public repositories, Apache License 2.0; fetched as snapshots, commit noted):

- traccar/traccar @ 9e5c458ad0bf44ceaddf72534bf6874787f41b6c:
  src/test/java/org/traccar/protocol/OsmAndProtocolDecoderTest.java (the file was last changed
  in f647f29fea4251e0549651cb7077bb6610553cf1): every request line of testDecodeQuery and every
  JSON body of testDecodeJson (posted with Content-Type: application/json), in file order.
- traccar/traccar-client-android @ 190ad19ac86941b3492d4c18d20269749f8a1cd8:
  app/src/test/java/org/traccar/client/ProtocolFormatterTest.kt: the expected URLs (the client
  POSTs them with the parameters in the query string; ShortcutActivity adds alarm=sos).
- traccar/traccar-client-ios @ 4517f8b80dda324b13ee6fbb9bd80e64f64611a0:
  TraccarClientTests/ProtocolFormatterTests.swift: the expected URL (POSTed; AppDelegate adds
  alarm=sos for the SOS intent).
- traccar/traccar-client (Flutter) @ e75baaac1e2b4be2e91207aa5f1c1b92d3200970 (the last commit before
  "Migrate to our own SDK"):
  lib/preferences.dart `_locationTemplate()`: the body of flutter_background_geolocation is
  {"location": <this template rendered>, "device_id": <id>} (http params), SOS adds extras
  {"alarm": "sos"} (lib/quick_actions.dart, lib/main_screen.dart), heartbeats extras
  {"heartbeat": true} (lib/geolocation_service.dart).
- traccar/traccar-client @ 2c5cd8fdba9d286f0862496632cc15c33d6bd872 (current, traccar_client_sdk
  ^1.0.10): the SDK's HttpUploader.kt (core/src/commonMain/kotlin/org/traccar/client/, read at
  Anton Tananaev's commit 4a9dc46f2e51f9edfb4a2a51ba6522f501bf6ac8 "Release 0.0.24" in the
  history of smit-joshi-addon/traccar-client-sdk, a fork of the SDK) POSTs a form; its
  fields are SDK_FORM_FIELDS. lib/push_service.dart POSTs id and notificationToken.
"""

# ruff: noqa: E501 (request lines and bodies are kept as they are sent)
from __future__ import annotations

# testDecodeQuery, in order (each GET; the second has no id: Traccar answers it 400).
DECODER_QUERY_LINES = [
    "/?id=123456&timestamp=1377177267&cell=257,02,16,2224&cell=257,02,16,2223,-90&wifi=00-14-22-01-23-45,-80&wifi=00-1C-B3-09-85-15,-70",
    "/?timestamp=1377177267&lat=60.0&lon=30.0",
    "/?id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0&altitude=224.0&speed=0.0",
    "/?id=902064&lat=42.06288&lon=-88.23412&timestamp=1442068686579&hdop=6.0&altitude=224.0&speed=0.0",
    "/?lat=49.60688&lon=6.15788&timestamp=2014-06-04+09%3A10%3A11&altitude=384.7&speed=0.0&id=353861053849681",
    "/?id=123456&timestamp=1377177267&lat=60.0&lon=30.0&speed=0.0&bearing=0.0&altitude=0&hdop=0.0",
    "/?id=123456&timestamp=1377177267&lat=60.0&lon=30.0",
    "/?lat=60.0&lon=30.0&speed=0.0&heading=0.0&vacc=0&hacc=0&altitude=0&deviceid=123456",
    "/?id=861001000719969&lat=41.666667&lon=-0.883333&altitude=350.059479&speed=0.000000&batt=87",
    "/?id=123456&timestamp=1377177267&location=60.0,30.0",
    "/?id=123456789012345&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571&bearing=7.19889788244&speed=40&ignition=true&rpm=933&fuel=24",
]

# testDecodeJson, in order (POST /, Content-Type: application/json).
DECODER_JSON_BODIES = [
    '{"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,"longitude":-122.084,"accuracy":5,"speed":0,"heading":-1,"altitude":5},"is_moving":false,"odometer":0,"event":"motionchange","battery":{"level":1,"is_charging":false},"activity":{"type":"still"},"extras":{},"_":"&id=48241179&lat=37.4219983&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&"},"device_id":"48241179"}',
    '{"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,"longitude":-122.084,"accuracy":5,"speed":0,"heading":-1,"altitude":5},"is_moving":false,"odometer":0,"event":"motionchange","battery":{"level":1,"is_charging":false},"activity":{"type":"still"},"extras":{"device_string_test":"long_device_id","device_bool_test":true,"device_bool_false_test":false,"device_integer_test":1,"device_integer_twelve_test":12,"device_double_test":1.345,"device_very_long_double_test":1763636.3442},"_":"&id=48241179&lat=37.4219983&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&"},"device_id":"48241179"}',
    '{"location":{"extras":{},"mock":true,"coords":{"speed_accuracy":-1,"speed":-1,"longitude":-122.406417,"ellipsoidal_altitude":0,"floor":null,"heading_accuracy":-1,"latitude":37.785834000000001,"accuracy":5,"altitude_accuracy":-1,"altitude":0,"heading":-1},"is_moving":false,"age":188,"odometer":0,"uuid":"2FB04C65-99CF-42AB-8DD3-EBCB4B108BF8","event":"motionchange","battery":{"level":-1,"is_charging":false},"activity":{"type":"unknown","confidence":100},"timestamp":"2025-05-09T04:11:30.579Z"},"device_id":"658765"}',
    '{"location":{"event":"motionchange","is_moving":false,"uuid":"0e9a2473-a9a7-4c00-997b-fb97d2154e75","timestamp":"2021-07-21T08:06:34.444Z","odometer":0,"coords":{"latitude":-6.1148096,"longitude":106.6837015,"accuracy":3.8,"speed":18.67,"speed_accuracy":0.26,"heading":63,"heading_accuracy":0.28,"altitude":35.7,"altitude_accuracy":3.8},"activity":{"type":"still","confidence":100},"battery":{"is_charging":false,"level":0.79},"extras":{}},"device_id":"8737767034"}',
]

# ProtocolFormatterTest (Android): testFormatRequest, testFormatPathPortRequest,
# testFormatAlarmRequest.
ANDROID_FORMATTER_URLS = [
    "http://localhost:5055?id=123456789012345&timestamp=619315200&lat=0.0&lon=0.0&speed=0.0&bearing=0.0&altitude=0.0&accuracy=0.0&batt=0.0",
    "http://localhost:8888/path?id=123456789012345&timestamp=619315200&lat=0.0&lon=0.0&speed=0.0&bearing=0.0&altitude=0.0&accuracy=0.0&batt=0.0",
    "http://localhost:5055/path?id=123456789012345&timestamp=619315200&lat=0.0&lon=0.0&speed=0.0&bearing=0.0&altitude=0.0&accuracy=0.0&batt=0.0&alarm=alert%20message",
]

# ProtocolFormatterTests (iOS): testFormatPosition.
IOS_FORMATTER_URLS = [
    "http://localhost:5055?id=123456789012345&timestamp=0&lat=0.000000&lon=0.000000&speed=0&bearing=0&altitude=0&accuracy=0&batt=0",
]

# The Flutter client's locationTemplate before rendering (placeholders <%= ... %>, and
# ${instance.getString(id)} for the device id); lines are joined after trimLeft().
FLUTTER_LOCATION_TEMPLATE = (
    "{\n"
    '      "timestamp": "<%= timestamp %>",\n'
    '      "coords": {\n'
    '        "latitude": <%= latitude %>,\n'
    '        "longitude": <%= longitude %>,\n'
    '        "accuracy": <%= accuracy %>,\n'
    '        "speed": <%= speed %>,\n'
    '        "heading": <%= heading %>,\n'
    '        "altitude": <%= altitude %>\n'
    "      },\n"
    '      "is_moving": <%= is_moving %>,\n'
    '      "odometer": <%= odometer %>,\n'
    '      "event": "<%= event %>",\n'
    '      "battery": {\n'
    '        "level": <%= battery.level %>,\n'
    '        "is_charging": <%= battery.is_charging %>\n'
    "      },\n"
    '      "activity": {\n'
    '        "type": "<%= activity.type %>"\n'
    "      },\n"
    '      "extras": {},\n'
    '      "_": "&id=${instance.getString(id)}&lat=<%= latitude %>&lon=<%= longitude %>&timestamp=<%= timestamp %>&"\n'
    "    }"
)

# The current SDK's form fields, in HttpUploader.kt's order (speed in knots, batt 0-100).
SDK_FORM_FIELDS = (
    "id",
    "lat",
    "lon",
    "timestamp",
    "accuracy",
    "altitude",
    "speed",
    "bearing",
    "batt",
    "charge",
    "alarm",
)
