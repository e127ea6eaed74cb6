/**
 * What the sample case contains. Plain data: sample.builder.ts turns it into
 * files and derives expected.json from it; the unit test then reads the files
 * back with exifr/ffprobe/sharp to prove the manifest is true.
 */
import type { CameraExif } from './photo.encoder.js';
import type { Rgb } from './scene.painter.js';

export interface SceneSpec {
  width: number;
  height: number;
  /** Index into STYLES, so every picture looks different in a thumbnail grid. */
  style: number;
  label: string;
}

export interface VideoPlan {
  /** 'apple': MOV with com.apple.quicktime.* keys; 'android': MP4 with the ©xyz location atom and com.android.* keys. */
  flavour: 'apple' | 'android';
  source: 'testsrc' | 'testsrc2' | 'smptebars' | 'rgbtestsrc';
  width: number;
  height: number;
  durationSec: number;
  audio: boolean;
  creationTimeUtc: string;
  make: string;
  model: string;
  location: { lat: number; lon: number; altM?: number };
}

export type Content =
  | { type: 'jpeg'; scene: SceneSpec; quality: number; exif?: CameraExif }
  | { type: 'png'; scene: SceneSpec }
  | { type: 'heic'; scene: SceneSpec; exif: CameraExif }
  | { type: 'video'; video: VideoPlan }
  /** Scan destroyed, EXIF (with an IFD1 thumbnail of thumbnailWidth px) intact. */
  | { type: 'damaged-jpeg'; scene: SceneSpec; quality: number; exif: CameraExif; thumbnailWidth: number }
  /** No EXIF; JPEG headers (tables, frame header) intact, noise from the scan on: nothing to decode, no preview. */
  | { type: 'corrupt-jpeg'; scene: SceneSpec; quality: number }
  /**
   * A camera JPEG whose EXIF carries an IFD1 preview (thumbnailWidth px) made from the same exposure.
   * `paintOver` is an edit made afterwards: a rectangle (percent of the picture) painted over the main
   * image only, as an editor that keeps the EXIF block leaves it, so the preview still shows the original.
   */
  | { type: 'camera-jpeg'; scene: SceneSpec; quality: number; exif: CameraExif; thumbnailWidth: number; paintOver?: PaintOver }
  /**
   * `original` (a JPEG of this plan) decoded, resized to width x height and re-encoded at `quality` with no
   * metadata, as a messaging app sends a photo on: a near-duplicate, found by PDQ, not by hash.
   * `originalPath` is the original's display path in the manifest.
   */
  | { type: 'resent-jpeg'; original: Content; originalPath: string; width: number; height: number; quality: number }
  | { type: 'text'; text: string }
  | { type: 'zip'; members: Member[]; emptyDirectories?: string[]; directoryMtime: string }
  | { type: 'tar.gz'; members: Member[]; emptyDirectories?: string[]; directoryMtime: string }
  /** A FAT32 memory card wrapped as E01; `deleted` (member paths) are removed with mdel after writing. */
  | { type: 'fat32-e01'; card: FatCardPlan; ewf: EwfPlan; members: Member[]; deleted: string[]; directoryMtime: string }
  /** A raw ext4 volume (no partition table), as `dd` of a USB stick gives it. */
  | { type: 'ext4-raw'; volume: Ext4Plan; members: Member[]; directoryMtime: string };

export interface PaintOver {
  xPct: number;
  yPct: number;
  wPct: number;
  hPct: number;
  colour: Rgb;
}

export interface FatCardPlan {
  label: string;
  volumeId: string;
  sizeKiB: number;
}

export interface Ext4Plan {
  label: string;
  uuid: string;
  sizeKiB: number;
}

/** What the acquiring examiner typed into the imaging tool; the acquisition date is fixed so the E01 regenerates. */
export interface EwfPlan {
  caseNumber: string;
  evidenceNumber: string;
  description: string;
  examiner: string;
  notes: string;
  /** UTC, 'YYYY-MM-DDTHH:mm:ssZ'. */
  acquiredAt: string;
}

export interface Member {
  path: string;
  /** Wall clock, even seconds. */
  mtime: string;
  /** The same object in two places yields the same bytes (a duplicate). */
  content: Content;
}

export interface EvidencePlan {
  evidenceId: string;
  uploads: Array<{ fileName: string; content: Content }>;
}

export interface CasePlan {
  caseId: string;
  evidence: EvidencePlan[];
}

export const STYLES: ReadonlyArray<{ sky: Rgb; ground: Rgb; sun: Rgb; blocks: Rgb; ink: Rgb }> = [
  { sky: [70, 130, 200], ground: [60, 140, 70], sun: [250, 210, 60], blocks: [120, 110, 100], ink: [255, 255, 255] },
  { sky: [250, 160, 80], ground: [120, 60, 40], sun: [255, 240, 200], blocks: [60, 40, 50], ink: [20, 20, 20] },
  { sky: [20, 30, 80], ground: [10, 10, 30], sun: [230, 230, 240], blocks: [40, 60, 120], ink: [255, 220, 0] },
  { sky: [150, 210, 240], ground: [230, 210, 150], sun: [255, 255, 120], blocks: [200, 90, 60], ink: [0, 60, 140] },
  { sky: [200, 200, 210], ground: [90, 90, 90], sun: [240, 120, 120], blocks: [50, 50, 60], ink: [255, 60, 60] },
  { sky: [120, 200, 160], ground: [30, 90, 60], sun: [250, 250, 250], blocks: [20, 60, 40], ink: [255, 255, 0] },
  { sky: [240, 200, 220], ground: [160, 80, 120], sun: [255, 255, 255], blocks: [100, 30, 70], ink: [40, 0, 40] },
  { sky: [100, 100, 180], ground: [200, 180, 60], sun: [255, 150, 0], blocks: [80, 50, 20], ink: [255, 255, 255] },
  { sky: [30, 160, 180], ground: [240, 230, 200], sun: [255, 220, 120], blocks: [0, 90, 110], ink: [120, 0, 0] },
  { sky: [60, 60, 60], ground: [180, 40, 40], sun: [255, 255, 0], blocks: [20, 20, 20], ink: [0, 255, 255] },
  { sky: [180, 230, 255], ground: [250, 250, 250], sun: [255, 200, 0], blocks: [150, 170, 200], ink: [0, 0, 0] },
  { sky: [90, 40, 120], ground: [40, 20, 60], sun: [255, 120, 200], blocks: [140, 80, 160], ink: [255, 255, 255] },
];

const iPhone14 = { make: 'Apple', model: 'iPhone 14', software: '17.5.1' } as const;
const galaxyS21 = { make: 'samsung', model: 'SM-G991B', software: 'G991BXXSGHXF1' } as const;
const pixel7 = { make: 'Google', model: 'Pixel 7', software: 'HDR+ 1.0.641377693zd' } as const;

/** One iPhone photo kept twice in the extraction: analysed once, indexed at both paths. */
const duplicatedPhoto: Content = {
  type: 'jpeg',
  quality: 72,
  scene: { width: 1280, height: 960, style: 1, label: '2' },
  exif: { ...iPhone14, dateTimeOriginal: '2025:06:07 16:45:30', gps: { lat: 40.6892, lon: -74.0445 } },
};

const backupArchive: Content = {
  type: 'tar.gz',
  directoryMtime: '2020-01-05T10:00:00',
  members: [
    {
      path: 'old-photos/2019/IMG_1001.JPG',
      mtime: '2019-08-14T21:10:02',
      content: {
        type: 'jpeg',
        quality: 70,
        scene: { width: 1200, height: 900, style: 7, label: '1001' },
        exif: { make: 'Canon', model: 'Canon EOS 80D', dateTimeOriginal: '2019:08:14 21:10:00', gps: { lat: 64.1466, lon: -21.9426 } },
      },
    },
    {
      path: 'old-photos/2019/IMG_1002.JPG',
      mtime: '2019-11-02T16:00:04',
      content: {
        type: 'jpeg',
        quality: 70,
        scene: { width: 1024, height: 768, style: 8, label: '1002' },
        exif: {
          make: 'Apple',
          model: 'iPhone 8',
          software: '13.1.3',
          dateTimeOriginal: '2019:11:02 13:00:00',
          offsetTimeOriginal: '-03:00',
          gps: { lat: -34.6037, lon: -58.3816 },
        },
      },
    },
    {
      path: 'old-photos/archive-2018.zip',
      mtime: '2019-12-30T12:00:00',
      content: {
        type: 'zip',
        directoryMtime: '2018-01-21T09:00:00',
        members: [
          {
            path: 'DCIM/100NIKON/DSC_0001.JPG',
            mtime: '2018-01-20T07:45:02',
            content: {
              type: 'jpeg',
              quality: 70,
              scene: { width: 1200, height: 800, style: 9, label: '2018' },
              exif: {
                make: 'NIKON CORPORATION',
                model: 'NIKON D750',
                dateTimeOriginal: '2018:01:20 07:45:00',
                offsetTimeOriginal: '+13:00',
                gps: { lat: -36.8485, lon: 174.7633 },
              },
            },
          },
        ],
      },
    },
  ],
};

const phoneExtraction: Content = {
  type: 'zip',
  directoryMtime: '2025-06-10T09:00:00',
  emptyDirectories: ['DCIM/Screenshots/'],
  members: [
    {
      path: 'DCIM/Camera/IMG_0001.JPG',
      mtime: '2025-06-01T14:30:06',
      content: {
        type: 'jpeg',
        quality: 72,
        // Stored landscape, shown portrait: the thumbnail must honour Orientation 6.
        scene: { width: 1600, height: 1200, style: 0, label: '1' },
        exif: {
          ...iPhone14,
          dateTimeOriginal: '2025:06:01 14:30:05',
          offsetTimeOriginal: '+01:00',
          gps: { lat: 51.5007, lon: -0.1246 },
          orientation: 6,
        },
      },
    },
    { path: 'DCIM/Camera/IMG_0002.JPG', mtime: '2025-06-07T16:45:32', content: duplicatedPhoto },
    {
      path: 'DCIM/Camera/20250602_093012.jpg',
      mtime: '2025-06-02T09:30:14',
      content: {
        type: 'jpeg',
        quality: 72,
        scene: { width: 2000, height: 1500, style: 2, label: '3' },
        exif: { ...galaxyS21, dateTimeOriginal: '2025:06:02 09:30:12', offsetTimeOriginal: '-03:00', gps: { lat: -22.9519, lon: -43.2105 } },
      },
    },
    {
      path: 'DCIM/Camera/PXL_20250604_081500123.jpg',
      mtime: '2025-06-04T08:15:02',
      content: {
        type: 'jpeg',
        quality: 72,
        scene: { width: 1024, height: 768, style: 3, label: '4' },
        exif: { ...pixel7, dateTimeOriginal: '2025:06:04 08:15:00', gps: { lat: -33.8568, lon: 151.2153 } },
      },
    },
    {
      path: 'DCIM/Camera/IMG_0003.HEIC',
      mtime: '2025-06-03T11:20:02',
      content: {
        type: 'heic',
        scene: { width: 1024, height: 768, style: 4, label: '5' },
        exif: { ...iPhone14, dateTimeOriginal: '2025:06:03 11:20:00', offsetTimeOriginal: '+02:00', gps: { lat: -33.9249, lon: 18.4241 } },
      },
    },
    {
      path: 'DCIM/Camera/IMG_CORRUPT.jpg',
      mtime: '2025-06-05T08:00:00',
      content: { type: 'corrupt-jpeg', quality: 72, scene: { width: 1024, height: 768, style: 5, label: '6' } },
    },
    {
      path: 'DCIM/Camera/IMG_DAMAGED.jpg',
      mtime: '2025-06-06T18:05:12',
      content: {
        type: 'damaged-jpeg',
        quality: 72,
        thumbnailWidth: 160,
        scene: { width: 1600, height: 1200, style: 6, label: '7' },
        exif: { ...galaxyS21, dateTimeOriginal: '2025:06:06 18:05:10', offsetTimeOriginal: '+01:00', gps: { lat: 38.7223, lon: -9.1393 } },
      },
    },
    {
      path: 'DCIM/Video/IMG_0004.MOV',
      mtime: '2025-06-05T10:00:04',
      content: {
        type: 'video',
        video: {
          flavour: 'apple',
          source: 'testsrc2',
          width: 320,
          height: 240,
          durationSec: 3,
          audio: true,
          creationTimeUtc: '2025-06-05T10:00:00Z',
          make: 'Apple',
          model: 'iPhone 14',
          location: { lat: 48.8584, lon: 2.2945, altM: 35 },
        },
      },
    },
    {
      path: 'DCIM/Video/20250608_150000.mp4',
      mtime: '2025-06-08T15:00:02',
      content: {
        type: 'video',
        video: {
          flavour: 'android',
          source: 'testsrc',
          width: 320,
          height: 240,
          durationSec: 2,
          audio: false,
          creationTimeUtc: '2025-06-08T15:00:00Z',
          make: 'samsung',
          model: 'SM-G991B',
          location: { lat: -22.9519, lon: -43.2105 },
        },
      },
    },
    {
      // Messaging apps strip EXIF: an image with no capture metadata at all.
      path: 'WhatsApp/Media/WhatsApp Images/IMG-20250602-WA0000.jpg',
      mtime: '2025-06-02T20:11:40',
      content: { type: 'jpeg', quality: 60, scene: { width: 1024, height: 768, style: 10, label: '8' } },
    },
    {
      path: 'WhatsApp/Media/WhatsApp Images/IMG-20250603-WA0001.jpg',
      mtime: '2025-06-03T07:02:18',
      content: { type: 'jpeg', quality: 60, scene: { width: 768, height: 1024, style: 11, label: '9' } },
    },
    { path: 'Backups/old-photos.tar.gz', mtime: '2025-01-15T19:30:00', content: backupArchive },
    {
      path: 'Documents/notes.txt',
      mtime: '2025-06-04T12:00:00',
      content: { type: 'jpeg', quality: 65, scene: { width: 1024, height: 768, style: 5, label: '10' } },
    },
    {
      path: 'Documents/invoice.pdf',
      mtime: '2025-06-04T12:02:00',
      content: { type: 'png', scene: { width: 800, height: 600, style: 3, label: '11' } },
    },
    {
      path: 'Documents/shopping-list.txt',
      mtime: '2025-06-02T18:20:00',
      content: { type: 'text', text: 'Shopping list\n- milk\n- bread\n- batteries (AA x4)\n- parcel tape\n' },
    },
    {
      path: 'Notes/2025-06-02 meeting.txt',
      mtime: '2025-06-02T11:45:00',
      content: {
        type: 'text',
        text: 'Meeting 2 June 2025, 11:00\nAttendees: J., M.\nAgreed: hand over the parcel on Friday at the station.\n',
      },
    },
    { path: 'Pictures/Favourites/IMG_0002.JPG', mtime: '2025-06-08T09:12:44', content: duplicatedPhoto },
  ],
};

const canonR6 = { make: 'Canon', model: 'Canon EOS R6', software: 'Firmware Version 1.8.1' } as const;

/** A camera's SD card: four photos in DCIM/100CANON, IMG_0103.JPG deleted (8.3 name, so no long-name entry). */
const memoryCard: Content = {
  type: 'fat32-e01',
  card: { label: 'EOS_DIGITAL', volumeId: '20250610', sizeKiB: 34_000 },
  ewf: {
    caseNumber: 'DEMO-2026-001',
    evidenceNumber: 'EX03',
    description: 'SD card from the Canon camera',
    examiner: 'Sam Ple',
    notes: 'Generated sample: no real acquisition',
    acquiredAt: '2025-06-12T08:30:00Z',
  },
  directoryMtime: '2025-06-10T07:00:00',
  deleted: ['DCIM/100CANON/IMG_0103.JPG'],
  members: [
    {
      path: 'DCIM/100CANON/IMG_0101.JPG',
      mtime: '2025-06-10T07:12:04',
      content: {
        type: 'jpeg',
        quality: 70,
        scene: { width: 1200, height: 800, style: 0, label: '101' },
        exif: { ...canonR6, dateTimeOriginal: '2025:06:10 07:12:03', offsetTimeOriginal: '+02:00', gps: { lat: 45.4642, lon: 9.19 } },
      },
    },
    {
      path: 'DCIM/100CANON/IMG_0102.JPG',
      mtime: '2025-06-10T07:15:40',
      content: {
        type: 'jpeg',
        quality: 70,
        scene: { width: 1200, height: 800, style: 5, label: '102' },
        exif: { ...canonR6, dateTimeOriginal: '2025:06:10 07:15:39', offsetTimeOriginal: '+02:00', gps: { lat: 45.4654, lon: 9.1866 } },
      },
    },
    {
      path: 'DCIM/100CANON/IMG_0103.JPG',
      mtime: '2025-06-10T07:20:12',
      content: {
        type: 'jpeg',
        quality: 70,
        scene: { width: 1200, height: 800, style: 9, label: '103' },
        exif: { ...canonR6, dateTimeOriginal: '2025:06:10 07:20:11', offsetTimeOriginal: '+02:00', gps: { lat: 45.4408, lon: 12.3155 } },
      },
    },
    {
      path: 'DCIM/100CANON/IMG_0104.JPG',
      mtime: '2025-06-11T18:02:30',
      content: {
        type: 'jpeg',
        quality: 70,
        scene: { width: 800, height: 1200, style: 11, label: '104' },
        exif: { ...canonR6, dateTimeOriginal: '2025:06:11 18:02:29', offsetTimeOriginal: '+02:00', gps: { lat: 43.7696, lon: 11.2558 } },
      },
    },
  ],
};

/** A USB stick imaged with dd: ext4 straight on the device, two photos and a note. */
const usbStick: Content = {
  type: 'ext4-raw',
  volume: { label: 'USBSTICK', uuid: '2025d15c-0612-4000-8000-000000000015', sizeKiB: 1024 },
  directoryMtime: '2025-06-12T19:00:00',
  members: [
    {
      path: 'Photos/IMG_20250612_101500.jpg',
      mtime: '2025-06-12T10:15:02',
      content: {
        type: 'jpeg',
        quality: 70,
        scene: { width: 1024, height: 768, style: 6, label: '201' },
        exif: { ...pixel7, dateTimeOriginal: '2025:06:12 10:15:00', offsetTimeOriginal: '+02:00', gps: { lat: 41.9028, lon: 12.4964 } },
      },
    },
    {
      path: 'Photos/IMG_20250612_103000.jpg',
      mtime: '2025-06-12T10:30:01',
      content: {
        type: 'jpeg',
        quality: 70,
        scene: { width: 1024, height: 768, style: 7, label: '202' },
        exif: { ...pixel7, dateTimeOriginal: '2025:06:12 10:30:00', offsetTimeOriginal: '+02:00', gps: { lat: 41.8902, lon: 12.4922 } },
      },
    },
    {
      path: 'handover.txt',
      mtime: '2025-06-12T18:45:10',
      content: { type: 'text', text: 'Handover moved to Rome, 13 June, 09:00, same bag.\n' },
    },
  ],
};

/** The loose Pixel photo of EX02; its messaging-app copy sits beside it. */
const loosePhoto: Content = {
  type: 'jpeg',
  quality: 72,
  scene: { width: 1024, height: 768, style: 2, label: '12' },
  exif: { ...pixel7, dateTimeOriginal: '2025:06:09 12:00:00', offsetTimeOriginal: '-04:00', gps: { lat: -33.4489, lon: -70.6693 } },
};

/** Untouched: its 160x120 EXIF preview shows the picture (no `preview-differs`). */
const previewPhoto: Content = {
  type: 'camera-jpeg',
  quality: 80,
  thumbnailWidth: 160,
  scene: { width: 1600, height: 1200, style: 8, label: '13' },
  exif: { ...galaxyS21, dateTimeOriginal: '2025:06:09 12:10:00', offsetTimeOriginal: '-04:00', gps: { lat: -33.4372, lon: -70.6506 } },
};

/**
 * Edited: the sun (style 7: centre at 86 %, 27 %, radius 16 % of the height, see scenePixels in
 * sample.builder.ts) painted over with a sky-coloured box after the camera wrote the preview, which still
 * shows it (`preview-differs`).
 */
const editedPhoto: Content = {
  type: 'camera-jpeg',
  quality: 80,
  thumbnailWidth: 160,
  scene: { width: 1600, height: 1200, style: 7, label: '14' },
  exif: { ...galaxyS21, dateTimeOriginal: '2025:06:09 12:20:00', offsetTimeOriginal: '-04:00', gps: { lat: -33.4263, lon: -70.6200 } },
  paintOver: { xPct: 72, yPct: 8, wPct: 28, hPct: 38, colour: [100, 100, 180] },
};

export const CASE_PLAN: CasePlan = {
  caseId: 'DEMO-2026-001',
  evidence: [
    { evidenceId: 'EX01', uploads: [{ fileName: 'phone-extraction.zip', content: phoneExtraction }] },
    {
      evidenceId: 'EX02',
      uploads: [
        { fileName: 'IMG_LOOSE_0001.jpg', content: loosePhoto },
        // The loose photo again, as a messaging app sent it on: 62.5 %, quality 50, no EXIF (docs/pdq.md).
        {
          fileName: 'IMG-20250610-WA0003.jpg',
          content: { type: 'resent-jpeg', original: loosePhoto, originalPath: 'IMG_LOOSE_0001.jpg', width: 640, height: 480, quality: 50 },
        },
        // Two camera JPEGs with their EXIF preview: one as the camera wrote it, one edited afterwards.
        { fileName: 'IMG_LOOSE_0002.jpg', content: previewPhoto },
        { fileName: 'IMG_LOOSE_0003.jpg', content: editedPhoto },
        {
          fileName: 'VID_LOOSE_0001.mp4',
          content: {
            type: 'video',
            video: {
              flavour: 'android',
              source: 'smptebars',
              width: 320,
              height: 240,
              durationSec: 2,
              audio: true,
              creationTimeUtc: '2025-06-09T18:30:00Z',
              make: 'Google',
              model: 'Pixel 7',
              location: { lat: 40.758, lon: -73.9855 },
            },
          },
        },
      ],
    },
    { evidenceId: 'EX03', uploads: [{ fileName: 'sd-card.E01', content: memoryCard }] },
    { evidenceId: 'EX04', uploads: [{ fileName: 'usb-stick.dd', content: usbStick }] },
  ],
};
